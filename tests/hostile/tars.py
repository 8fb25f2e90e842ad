"""tars.py - hostile WebDataset shards: tars of small images and .cls members
(ustar, GNU and pax long names) with member headers changed (names: '..',
absolute, NUL, no extension, another sample's key; sizes past or short of the
data, bad octal, base-256; type flags; checksums right or wrong; magic),
members dropped, repeated or swapped, pax records lying, end blocks gone,
files cut or extended, through imgdecode. Besides core.py's rules, exit 0
means: Python's tarfile reads the whole shard, the archive ends with its
zero blocks and nothing after them, and the records are exactly one per
sample (a run of members with one key), in order, each with its .cls label
and the tensor imgdecode gives for the member's bytes as a file.
"""
import io
import os
import struct
import tarfile

import mp
from core import Run, execute

IMAGES = ["tiny_7x5.jpg", "png_l.png", "small_100x80.jpg", "png_p4_trns.png"]


def make_seeds(folder, ctx):
    imgs = {n: open(os.path.join(ctx.testdata, "imgdecode", n), "rb").read() for n in IMAGES}

    def shard(name, fmt, members):
        bio = io.BytesIO()
        with tarfile.open(fileobj=bio, mode="w", format=fmt) as tf:
            for mname, data in members:
                ti = tarfile.TarInfo(mname)
                ti.size = len(data)
                ti.mtime = 1700000000
                tf.addfile(ti, io.BytesIO(data))
        with open(os.path.join(folder, name), "wb") as f:
            f.write(bio.getvalue())

    base = [("s000.jpg", imgs["tiny_7x5.jpg"]), ("s000.cls", b"3\n"), ("s001.cls", b"7"),
            ("s001.png", imgs["png_l.png"]), ("s002.jpg", imgs["small_100x80.jpg"]), ("s003.json", b"{}"),
            ("s003.png", imgs["png_p4_trns.png"]), ("s003.cls", b"11")]
    longn = [("d/" + "k" * 120 + ".jpg", imgs["tiny_7x5.jpg"]), ("d/" + "k" * 120 + ".cls", b"1"),
             ("dir/sub/s9.a.png", imgs["png_l.png"])]
    shard("ustar.tar", tarfile.USTAR_FORMAT, base + [("p" * 60 + "/" + "q" * 90 + ".jpg", imgs["tiny_7x5.jpg"])])
    shard("gnu.tar", tarfile.GNU_FORMAT, base[:4] + longn)
    shard("pax.tar", tarfile.PAX_FORMAT, base[2:6] + longn + [("caf\u00e9.jpg", imgs["tiny_7x5.jpg"])])


# ---- the tar's blocks ----

def headers(b):
    """Offsets of the member headers, as the bytes give them (sizes in octal)."""
    out = []
    o = 0
    while o + 512 <= len(b):
        h = b[o:o + 512]
        if h == b"\0" * 512:
            break
        out.append(o)
        try:
            size = int(h[124:136].split(b"\0")[0].strip() or b"0", 8)
        except ValueError:
            break
        o += 512 + (size + 511) // 512 * 512
    return out


def checksum(h):
    h[148:156] = b" " * 8
    h[148:156] = b"%06o\0 " % (sum(h) & 0o777777)


def member_span(b, offs, i):
    """Header and data (padded) of member i: (start, end)."""
    start = offs[i]
    if i + 1 < len(offs):
        return start, offs[i + 1]
    try:
        size = int(b[start + 124:start + 136].split(b"\0")[0].strip() or b"0", 8)
    except ValueError:
        size = 0
    return start, min(len(b), start + 512 + (size + 511) // 512 * 512)


NAMES = [b"../s000.jpg", b"/abs/s000.jpg", b"s000.JPG", b"s000", b".jpg", b"s000.jpg.cls", b"a/b/s000.jpg",
         b"s0\0x.jpg", b"s\xff.jpg", b"s\n\x1b[2J.jpg", b"x" * 100, b"s001.jpg", b"s000.cls", b"s002.png", b"./s000.jpg",
         b"s000.jpeg", b"s000.PnG", b"dir/", b"a/../../b.jpg", b"s000..jpg", b"\xc2\x9b.jpg"]
CLS = [b"3", b"-1", b"-2", b"1000", b"99999999999999999999", b"3.5", b" 3\n", b"", b"0x10", b"3\n4", b"abc",
       b"\xff", b"+3", b"03", b"9" * 31, b"1e3", b"\x00"]


def mutate(rng, b):
    b = bytearray(b)
    offs = headers(bytes(b))
    if not offs:
        return bytes(b[:len(b) // 2]), "cut"
    i = rng.randrange(len(offs))
    o = offs[i]
    h = bytearray(b[o:o + 512])
    fix = rng.random() < 0.8
    c = rng.randrange(14)
    what = ""
    if c == 0:
        n = rng.choice(NAMES)
        h[0:100] = n[:100].ljust(100, b"\0")
        what = "member %d named %r" % (i, n)
    elif c == 1:
        v = rng.choice([b"%011o\0" % 0, b"%011o\0" % (1 << 33 - 1), b"77777777777\0", b"9999\0", b"        \0",
                        b"\x80" + b"\0" * 3 + b"\xff" * 8, b"\xff" * 12, b"12345678901234", b"%011o\0" % 1,
                        b"%011o\0" % 513, b"%011o " % 100])
        if rng.random() < 0.5:
            cur = octal(h[124:136]) or 0
            v = b"%011o\0" % max(0, cur + rng.choice([-1, 1, -512, 512, 1024, 1 << 20]))
        h[124:136] = v[:12].ljust(12, b"\0")
        what = "member %d size field %r" % (i, bytes(v[:12]))
    elif c == 2:
        t = rng.choice(b"0125634gxLKSVAM\0")
        h[156] = t
        what = "member %d type %r" % (i, chr(t))
    elif c == 3:
        h[257:265] = rng.choice([b"ustar  \0", b"\0" * 8, b"ustaR\x0000", b"ustar\x0099"])
        what = "member %d magic" % i
    elif c == 4:
        fix = False
        h[148:156] = rng.choice([b"0000000\0", b"       \0", b"abc\0\0\0\0\0", b"%06o\0 " % (sum(h) + 1)])
        what = "member %d checksum wrong" % i
    elif c == 5:
        h[345:500] = rng.choice([b"../up", b"dir", b"/abs", b"p" * 155, b"\xff\xfe"]).ljust(155, b"\0")[:155]
        what = "member %d ustar prefix" % i
    elif c == 6:  # a .cls member's text
        cls = [k for k in offs if bytes(b[k:k + 100]).split(b"\0")[0].endswith(b".cls")]
        if cls:
            k = rng.choice(cls)
            txt = rng.choice(CLS)
            s, e = member_span(bytes(b), offs, offs.index(k))
            hh = bytearray(b[k:k + 512])
            hh[124:136] = b"%011o\0" % len(txt)
            checksum(hh)
            data = txt + b"\0" * ((-len(txt)) % 512)
            return bytes(b[:k] + hh + data + b[e:]), ".cls text %r" % txt
    elif c == 7:
        s, e = member_span(bytes(b), offs, i)
        return bytes(b[:s] + b[e:]), "member %d dropped" % i
    elif c == 8:
        s, e = member_span(bytes(b), offs, i)
        at = rng.choice(offs + [offs[-1]])
        return bytes(b[:at] + b[s:e] + b[at:]), "member %d repeated" % i
    elif c == 9 and len(offs) > 1:
        j = rng.randrange(len(offs))
        (s1, e1), (s2, e2) = sorted([member_span(bytes(b), offs, i), member_span(bytes(b), offs, j)])
        if e1 <= s2:
            return bytes(b[:s1] + b[s2:e2] + b[e1:s2] + b[s1:e1] + b[e2:]), "members %d and %d swapped" % (i, j)
    elif c == 10:
        end = member_span(bytes(b), offs, len(offs) - 1)[1]
        tail = rng.choice([b"", b"\0" * 512, b"\0" * 1024 + b"x", b"\0" * 1024 + bytes(b[:2048])])
        return bytes(b[:end]) + tail, "end blocks replaced by %d bytes" % len(tail)
    elif c == 11:
        cut = rng.choice([rng.randrange(len(b)), o + 512, o + 100, member_span(bytes(b), offs, i)[1]])
        return bytes(b[:cut]), "cut at %d of %d" % (cut, len(b))
    elif c == 12:  # pax/GNU extended data
        ext = [k for k in offs if b[k + 156] in b"xLgK"]
        if ext:
            k = rng.choice(ext)
            s, e = member_span(bytes(b), offs, offs.index(k))
            d = bytearray(b[k + 512:e])
            what = "extended header %r" % chr(b[k + 156])
            if b[k + 156] in b"xg":
                rec = rng.choice([b"30 path=../../../../etc/x.jpg\n", b"20 size=99999999999\n", b"12 size=-1\n",
                                  b"99 path=a.jpg\n", b"13 path=\0a.jpg\n", b"10 path=\n", b"11 path=x\n"])
                d[:len(rec)] = rec
            else:
                d[0:rng.randrange(1, 8)] = b"../../x"[:7]
            b[k + 512:k + 512 + len(d)] = d
            return bytes(b), what
    else:
        for _ in range(rng.choice([1, 4])):
            j = rng.randrange(512)
            h[j] = rng.randrange(256)
        what = "member %d header bytes flipped" % i
    if fix:
        checksum(h)
    b[o:o + 512] = h
    return bytes(b), what or "left"


def key_of(name):
    d = name.rfind("/")
    dot = name.find(".", d + 1)
    return (name[:dot] if dot >= 0 else name), (name[dot + 1:] if dot >= 0 else "")


def octal(f):
    """A numeric header field as tarfile reads it (octal text, or base-256), or None."""
    if f[0] in (0x80, 0xff):
        v = int.from_bytes(f[1:], "big")
        return v if f[0] == 0x80 else None
    try:
        return int(f.split(b"\0")[0].strip() or b"0", 8)
    except ValueError:
        return None


def structure(b):
    """Why the bytes are not a whole tar (checksums, sizes, data within the
    file, two zero blocks and only zeros after them), or None."""
    o = 0
    while True:
        if o + 512 > len(b):
            return "the data ends at %d without the two zero blocks" % o
        h = b[o:o + 512]
        if h == bytes(512):
            if b[o + 512:o + 1024] != bytes(512):
                return "one zero block at %d, then %r" % (o, b[o + 512:o + 520])
            return "bytes after the end blocks" if b[o + 1024:].strip(b"\0") else None
        chk = octal(h[148:156])
        u = sum(h[:148]) + 256 + sum(h[156:])
        sgn = sum(x - 256 if x > 127 else x for x in h[:148]) + 256 + sum(x - 256 if x > 127 else x for x in h[156:])
        if chk is None or chk not in (u, sgn):
            return "bad header checksum at %d" % o
        size = octal(h[124:136])
        if size is None:
            return "bad size field at %d" % o
        o += 512 + (size + 511) // 512 * 512
        if o > len(b):
            return "member data past the end of the file"


def expected(path, shard_base):
    """[(id, label, member bytes)] by tarfile and WebDataset's grouping, or
    None with why when tarfile refuses the shard or a sample has no single
    image; the archive must end with zero blocks and nothing after them."""
    data = open(path, "rb").read()
    try:
        tf = tarfile.open(fileobj=io.BytesIO(data), mode="r:")
        members = tf.getmembers()
        samples = []
        for m in members:
            if m.isdir():
                continue
            name = m.name
            own = data[m.offset_data - 512:m.offset_data]
            if m.offset == m.offset_data - 512 and own[257:263] != b"ustar\0" and own[345] and "/" in name:
                # tarfile takes bytes 345.. as a ustar prefix whatever the magic; in a GNU
                # header they are atime and ctime (imgtar reads the prefix of ustar only)
                name = name.split("/", 1)[1] if name.startswith(own[345:500].split(b"\0")[0].decode("utf-8", "surrogateescape") + "/") else name
            # a byte that is not UTF-8, as the record writer spells it: \xFF
            name = "".join("\\x%02X" % (ord(c) - 0xdc00) if "\udc80" <= c <= "\udcff" else c for c in name)
            key, ext = key_of(name)
            if not m.isreg():
                if ext.lower() in ("jpg", "jpeg", "png", "cls"):
                    return None, "member %r is not a regular file (type %r)" % (m.name, m.type)
                continue
            if not samples or samples[-1][0] != key:
                samples.append([key, [], []])
            body = tf.extractfile(m).read()
            if len(body) != m.size:
                return None, "member %r: %d of %d bytes" % (m.name, len(body), m.size)
            if ext.lower() in ("jpg", "jpeg", "png"):
                samples[-1][1].append(body)
            elif ext.lower() == "cls":
                samples[-1][2].append(body)
        end = tf.offset
    except tarfile.ReadError as ex:
        if "subsequent header" in str(ex) or "end of file header" in str(ex):
            return None, "tarfile: %s" % ex  # an extended header with no member after it
        return [], "partial"  # its first header: tarfile's rules for fields imgdecode does not read
    except (tarfile.TarError, OSError, EOFError, ValueError, UnicodeError) as ex:
        return None, "tarfile: %s: %s" % (type(ex).__name__, ex)
    rest = data[end:]
    whole = len(rest) >= 1024 and not rest.strip(b"\0")  # else tarfile stopped early, without a word
    out = []
    keys = [s[0] for s in samples]
    if len(set(keys)) != len(keys):
        return None, "a key met again after other samples"
    for n, (key, imgs, cls) in enumerate(samples):
        if not whole and n == len(samples) - 1:
            break  # its members may go on where tarfile stopped
        if len(imgs) != 1 or len(cls) > 1:
            return None, "sample %r: %d images, %d .cls" % (key, len(imgs), len(cls))
        label = -1
        if cls:
            # WebDataset's decoder: int(text), or no label
            try:
                label = int(cls[0].decode("utf-8"))
            except (ValueError, UnicodeError):
                label = "bad:%r" % cls[0]
        out.append(("%s/%s" % (shard_base, key), label, imgs[0]))
    return out, None if whole else "partial"


def build(case, rng, ctx):
    seed = rng.choice(["ustar.tar", "gnu.tar", "pax.tar"])
    data = open(os.path.join(ctx.seeddir, seed), "rb").read()
    for _ in range(rng.choice([1, 1, 2, 3])):
        if len(data) < 16:
            break  # nothing left to change
        data, what = mutate(rng, data)
        case.what.append(what)
    case.what.insert(0, "seed " + seed)
    name = case.write("shard.tar", data)
    case.runs = [Run("imgdecode", ["--preset", "imagenet", name], produces={"image"})]
    case.runs.append(rng.choice([
        Run("imgdecode", ["-j", "2", "--preset", "imagenet", name], produces={"image"}),
        Run("imgdecode", ["--preset", "imagenet", "/dev/stdin"], stdin=name, produces={"image"}),
        Run("imgdecode", ["--shard", "1/2", "--preset", "imagenet", name], produces={"image"}),
        Run("imgdecode", ["--max-memory", "1M", name], produces={"image"}),
    ]))
    case.oracle = tar_oracle(name, ctx)


def records(data):
    return [(r.get("type"), r.get("id"), r.get("label"), r.get("tensor").get("data") if r.get("type") == "image" else r.get("message"))
            for r, _, _ in mp.Stream(data).records if isinstance(r, mp.Pairs) and r.get("type") in ("image", "error")]


def tar_oracle(name, ctx):
    def oracle(case):
        a = case.runs[0]
        got = records(a.stdout)
        x = case.runs[1]
        if x.args[:2] == ["-j", "2"] and (x.rc, records(x.stdout)) != (a.rc, got):
            return ["imgdecode -j 2 (exit %d) and -j 1 (exit %d) differ on the shard" % (x.rc, a.rc)]
        if x.stdin and a.rc == 0 and x.rc == 0:
            g2 = [(t, i.split("/", 1)[1], lab, d) for t, i, lab, d in records(x.stdout)]
            if g2 != [(t, i.split("/", 1)[1], lab, d) for t, i, lab, d in got]:
                return ["imgdecode: the shard read from a pipe gives other records than from the file"]
        if a.rc != 0:
            return []
        if case.read(name)[257:262] != b"ustar":
            return []  # no tar by its bytes: imgdecode reads it as an image file
        why = structure(case.read(name))
        if why:
            return ["imgdecode exit 0 on a broken tar: %s" % why]
        want, why = expected(case.path(name), "shard.tar")
        if want is None:
            return ["imgdecode exit 0 on a shard tarfile reads otherwise: %s" % why]
        if why == "partial":  # tarfile gave up on a header field imgdecode has no use for: the samples before
            got = got[:len(want)]
        if [(g[1], g[2]) for g in got] != [(w[0], w[1]) for w in want] or any(g[0] != "image" for g in got):
            return ["imgdecode exit 0: records %r, but the shard's samples are %r" % (
                [(g[0], g[1], g[2]) for g in got][:6], [(w[0], w[1]) for w in want][:6])]
        for g, w in zip(got, want):
            ref = case.write("member.img", w[2])
            r = Run("imgdecode", ["--preset", "imagenet", ref])
            execute(r, case, ctx.bindir, ctx.env, 20)
            os.unlink(case.path(ref))
            rr = records(r.stdout)
            if not rr or rr[0][0] != "image" or rr[0][3] != g[3]:
                return ["imgdecode exit 0: %r differs from the member decoded as a file (%s)" % (
                    g[1], rr[0][0] if rr else "no record")]
        return []
    return oracle
