#!/usr/bin/env python3
"""webdataset_make.py - build WebDataset tar shards for imgdecode's tests.

Usage:
  webdataset_make.py shards OUTDIR LABELS.tsv IMAGE...
      two shards OUTDIR/part-0.tar, part-1.tar (first half, second half of
      the images in the order given): KEY.jpg + KEY.cls (the index from
      LABELS.tsv, file<TAB>wnid<TAB>index), KEY the file name up to its first '.'
  webdataset_make.py longnames OUTDIR LABELS.tsv IMAGE...
      the images as one shard in each of three ways, the same keys in all:
      pax.tar, gnu.tar (Python tarfile in PAX and GNU format) and raw.tar
      (written here: a pax global header, pax "size" over a 0 size field, a
      later "path" record winning, GNU 'K' + 'L'); keys cycle through 150
      bytes, 150 bytes under a 60-byte folder, not ASCII, and short;
      OUTDIR/keys.txt lists them in order; ustar.tar (USTAR format) holds
      the samples under the folder (a name split into prefix and name)
  webdataset_make.py hostile-pax OUTDIR GOOD.jpg
      paxbad.tar: the good sample, then members b1..b9 (ustar names bN.jpg) each
      refused through its extended header (pax LEN too long, LEN too short,
      no '=', no final newline, NUL in the path, '..' in a pax path, '..' in a
      GNU long name, a 2 MiB pax header, a 5000-byte name), then after.jpg;
      paxsize.tar (a pax "size" of "12x"), paxcut.tar (cut inside pax data)
  webdataset_make.py hostile OUTDIR GOOD.jpg
      hostile shards, each with a good sample (key 'good', class 7) first:
      paths.tar (../ and absolute names, a symlink, a pax long name: read),
      huge.tar (a 2 MB member), trunc.tar (member data cut short),
      badsum.tar (garbage header), bigsize.tar (base-256 size of 1 TiB),
      octal.tar (a size field with a non-octal digit), shorthdr.tar (300-byte header)
"""
import io
import os
import sys
import tarfile


def add(tf, name, data, kind=tarfile.REGTYPE, link=""):
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.linkname = link
    ti.size = len(data) if kind == tarfile.REGTYPE else 0
    tf.addfile(ti, io.BytesIO(data) if kind == tarfile.REGTYPE else None)


def build(members, fmt=tarfile.USTAR_FORMAT):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        for m in members:
            add(tf, *m)
    return bytearray(buf.getvalue())


def set_field(tar, hdr, off, raw):
    """Overwrite header bytes at hdr+off and fix the checksum."""
    tar[hdr + off:hdr + off + len(raw)] = raw
    tar[hdr + 148:hdr + 156] = b" " * 8
    tar[hdr + 148:hdr + 156] = b"%06o\0 " % sum(tar[hdr:hdr + 512])


def raw_header(name, size, flag=b"0"):
    """One ustar header block (name bytes, size, typeflag) with its checksum."""
    h = bytearray(512)
    h[0:len(name[:100])] = name[:100]
    h[100:108] = b"0000644\0"
    h[124:136] = b"%011o\0" % size
    h[136:148] = b"00000000000\0"
    h[156:157] = flag
    h[257:265] = b"ustar\x0000"
    set_field(h, 0, 148, b" " * 8)
    return bytes(h)


def raw_member(name, data, flag=b"0", size=None):
    """Header + data padded to 512; size overrides the header's size field."""
    pad = b"\0" * (-len(data) % 512)
    return raw_header(name, len(data) if size is None else size, flag) + data + pad


def pax_record(key, val):
    """ "LEN key=val\n", LEN counting its own digits."""
    body = b" " + key + b"=" + val + b"\n"
    n = len(body) + 1
    while len(str(n)) + len(body) != n:
        n += 1
    return str(n).encode() + body


def pax(data, flag=b"x"):
    return raw_member(b"././@PaxHeader", data, flag)


def longnames(out, labels, imgs):
    keys = []
    for i, p in enumerate(imgs):
        base = os.path.basename(p).split(".")[0]
        keys.append([base + "-" + "x" * (149 - len(base)),
                     "d" * 60 + "/" + base + "-" + "y" * (88 - len(base)),
                     base + "-\u00f1and\u00fa-\u65e5\u672c",
                     base][i % 4])
    for fmt, name in ((tarfile.PAX_FORMAT, "pax"), (tarfile.GNU_FORMAT, "gnu"), (tarfile.USTAR_FORMAT, "ustar")):
        with tarfile.open(os.path.join(out, name + ".tar"), "w", format=fmt) as tf:
            for k, p in zip(keys, imgs):
                if name == "ustar" and "/" not in k:
                    continue
                add(tf, k + ".jpg", open(p, "rb").read())
                add(tf, k + ".cls", labels[os.path.basename(p)].encode())
    raw = [pax(pax_record(b"comment", b"a global header, ignored"), b"g")]
    for i, (k, p) in enumerate(zip(keys, imgs)):
        data, k = open(p, "rb").read(), k.encode()
        if i % 3 == 0:
            raw.append(pax(pax_record(b"mtime", b"1.5") + pax_record(b"path", k + b".jpg") +
                           pax_record(b"size", str(len(data)).encode())))
            raw.append(raw_member(b"junk", data, size=0))
        elif i % 3 == 1:
            raw.append(raw_member(b"././@LongLink", b"some/link\0", b"K"))
            raw.append(raw_member(b"././@LongLink", k + b".jpg\0", b"L"))
            raw.append(raw_member(b"junk", data))
        else:
            raw.append(pax(pax_record(b"path", b"wrong.jpg") + pax_record(b"path", k + b".jpg")))
            raw.append(raw_member(b"junk", data))
        cls = labels[os.path.basename(p)].encode()
        if len(k) + 4 <= 100:
            raw.append(raw_member(k + b".cls", cls))
        else:  # its .cls needs a long name too
            raw += [pax(pax_record(b"path", k + b".cls")), raw_member(b"x.cls", cls)]
    open(os.path.join(out, "raw.tar"), "wb").write(b"".join(raw) + b"\0" * 1024)
    open(os.path.join(out, "keys.txt"), "w", encoding="utf-8").write("".join(k + "\n" for k in keys))


def hostile_pax(out, good):
    long_bad = b"../" + b"x" * 150 + b".jpg"
    bad = [pax(b"999 path=x.jpg\n"),                       # LEN past the data
           pax(b"2 pathx.jpg\n"),                          # LEN too short (and no = after it)
           pax(b"13 pathx.jpg\n"),                         # no '='
           pax(b"14 path=x.jpg!"),                          # no newline at the end
           pax(pax_record(b"path", b"a\0b.jpg")),           # NUL in the path
           pax(pax_record(b"path", long_bad)),              # '..' in a pax path
           raw_member(b"././@LongLink", long_bad + b"\0", b"L"),  # '..' in a GNU long name
           pax(pax_record(b"comment", b"z" * (2 << 20))),   # over the 1 MiB bound
           pax(pax_record(b"path", b"n" * 5000 + b".jpg"))]  # a name over 4095 bytes
    t = [raw_member(b"good.jpg", good), raw_member(b"good.cls", b"7")]
    for i, b in enumerate(bad):
        t += [b, raw_member(b"b%d.jpg" % (i + 1), good)]
    t.append(raw_member(b"after.jpg", good))
    w = lambda name, b: open(os.path.join(out, name), "wb").write(b)
    w("paxbad.tar", b"".join(t) + b"\0" * 1024)
    head = b"".join(t[:2])
    w("paxsize.tar", head + pax(pax_record(b"size", b"12x")) + raw_member(b"x.jpg", good) + b"\0" * 1024)
    w("paxcut.tar", head + pax(pax_record(b"path", b"p" * 3000 + b".jpg"))[:512 + 1000])


def main():
    mode, out = sys.argv[1], sys.argv[2]
    if mode in ("shards", "longnames"):
        labels = {}
        for line in open(sys.argv[3]).read().splitlines()[1:]:
            f, _, idx = line.split("\t")
            labels[f] = idx
    if mode == "longnames":
        return longnames(out, labels, sys.argv[4:])
    if mode == "hostile-pax":
        return hostile_pax(out, open(sys.argv[3], "rb").read())
    if mode == "shards":
        imgs = sys.argv[4:]
        half = (len(imgs) + 1) // 2
        for n, part in enumerate((imgs[:half], imgs[half:])):
            with tarfile.open(os.path.join(out, "part-%d.tar" % n), "w", format=tarfile.USTAR_FORMAT) as tf:
                for p in part:
                    key = os.path.basename(p).split(".")[0]
                    add(tf, key + ".jpg", open(p, "rb").read())
                    add(tf, key + ".cls", labels[os.path.basename(p)].encode() + b"\n")
        return
    good = open(sys.argv[3], "rb").read()
    g = [("good.jpg", good), ("good.cls", b"7")]
    w = lambda name, b: open(os.path.join(out, name), "wb").write(b)
    w("paths.tar", build(g + [("../up.jpg", good), ("/abs/x.jpg", good), ("link.jpg", b"", tarfile.SYMTYPE, "good.jpg"),
                              ("d" * 120 + ".jpg", good), ("after.jpg", good)], tarfile.PAX_FORMAT))
    w("huge.tar", build(g + [("big.jpg", b"\0" * 2000000), ("after.jpg", good)]))
    t = build(g + [("cut.jpg", good)])
    w("trunc.tar", t[:1024 * 2 + ((len(good) + 511) // 512) * 512 + 512 + len(good) // 2])
    t = build(g + [("x.jpg", good)])
    hdr = 512 + ((len(good) + 511) // 512) * 512 + 1024
    t[hdr:hdr + 512] = b"garbage!" * 64
    w("badsum.tar", t)
    t = build(g + [("x.jpg", good)])
    set_field(t, hdr, 124, b"\x80" + (1 << 40).to_bytes(11, "big"))
    w("bigsize.tar", t)
    t = build(g + [("x.jpg", good)])
    set_field(t, hdr, 124, b"0000001x777\0")
    w("octal.tar", t)
    t = build(g)
    w("shorthdr.tar", t[:hdr] + build([("x.jpg", good)])[:300])


main()
