"""images.py - hostile JPEG and PNG files: testdata's images with their
header fields changed (dimensions, components, sampling, tables, scan
parameters, restart intervals, PNG's IHDR with its CRC made right), markers
and chunks dropped, repeated or reordered, compressed data damaged, files cut
or extended, through imgdecode. Besides core.py's rules:
  - a file imgdecode decodes with exit 0 opens in PIL too and gives PIL +
    torchvision's crop byte for byte (the imagenet preset, uint8): a damaged
    file never becomes a plausible but different image;
  - the window decode equals --full-decode, and -j 2 equals -j 1.
"""
import os
import struct
import zlib

import numpy as np

import mp
from core import Run

SEEDS = ["tiny_7x5.jpg", "small_100x80.jpg", "gray.jpg", "progressive.jpg", "restart.jpg", "sub411.jpg",
         "arith.jpg", "cmyk.jpg", "ycck.jpg", "prog_smooth.jpg", "tall_40x900.jpg", "two_comp.jpg",
         "restart_prog.jpg", "png_l.png", "png_p4_trns.png", "png_interlaced.png", "png_rgb.png", "png_la16.png",
         "png_1bit.png", "png_rgb16.png", "png_p.png", "png_rgba.png"]


def make_seeds(folder, ctx):
    for s in SEEDS:
        with open(os.path.join(ctx.testdata, "imgdecode", s), "rb") as f, open(os.path.join(folder, s), "wb") as o:
            o.write(f.read())


# ---- JPEG ----

def jpeg_segments(b):
    """[(marker, start, end)]: end of a segment; for SOS the scan data run to the next marker."""
    segs = []
    i = 2
    segs.append((0xd8, 0, 2))
    while i + 4 <= len(b):
        if b[i] != 0xff:
            break
        m = b[i + 1]
        if m == 0xd9:
            segs.append((m, i, i + 2))
            break
        if 0xd0 <= m <= 0xd7 or m == 0x01:
            segs.append((m, i, i + 2))
            i += 2
            continue
        n = struct.unpack(">H", b[i + 2:i + 4])[0]
        end = i + 2 + n
        if m == 0xda:  # scan data up to the next marker that is not RSTn or a stuffed 0
            j = end
            while j + 1 < len(b) and not (b[j] == 0xff and b[j + 1] not in (0,) and not 0xd0 <= b[j + 1] <= 0xd7):
                j += 1
            end = j
        segs.append((m, i, min(end, len(b))))
        i = end
    return segs


def mutate_jpeg(rng, b):
    b = bytearray(b)
    segs = jpeg_segments(bytes(b))
    kinds = {}
    for m, s, e in segs:
        kinds.setdefault(m, []).append((s, e))
    sof = next(((s, e) for m, s, e in segs if m in (0xc0, 0xc1, 0xc2, 0xc3, 0xc9, 0xca)), None)
    c = rng.randrange(14)
    if c == 0 and sof:
        s = sof[0]
        h = rng.choice([0, 1, 2, 8, 224, 65535, 65500, 17, 3000]) if rng.random() < 0.5 else None
        w = rng.choice([0, 1, 3, 65535, 65500, 40000, 30000]) if h is None or rng.random() < 0.5 else None
        if h is not None:
            b[s + 5:s + 7] = struct.pack(">H", h)
        if w is not None:
            b[s + 7:s + 9] = struct.pack(">H", w)
        return bytes(b), "SOF size %sx%s" % (w, h)
    if c == 1 and sof:
        s = sof[0]
        ncomp = b[s + 9]
        field = rng.choice(["ncomp", "sampling", "qtable", "precision", "id"])
        if field == "ncomp":
            b[s + 9] = rng.choice([0, 2, 4, 5, 255])
        elif field == "precision":
            b[s + 4] = rng.choice([0, 12, 16, 255])
        elif ncomp:
            k = rng.randrange(ncomp)
            o = s + 10 + 3 * k
            if o + 2 < len(b):
                if field == "sampling":
                    b[o + 1] = rng.choice([0x00, 0x11, 0x22, 0x44, 0x41, 0x14, 0x55, 0xff, 0x31])
                elif field == "qtable":
                    b[o + 2] = rng.choice([1, 3, 4, 255])
                else:
                    b[o] = b[s + 10]  # two components with one id
        return bytes(b), "SOF %s" % field
    if c == 2 and sof:
        s = sof[0]
        b[s + 1] = rng.choice([0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc9, 0xca, 0xcb, 0xcf])
        return bytes(b), "SOF type 0x%02x" % b[s + 1]
    if c == 3 and 0xc4 in kinds:
        s, e = rng.choice(kinds[0xc4])
        o = rng.randrange(s + 4, max(s + 5, min(e, s + 22)))
        if o < len(b):
            b[o] = rng.choice([0, 0xff, 0x80, 0x10, 0x13, 0x20, 1])
        return bytes(b), "DHT byte %d" % (o - s)
    if c == 4 and 0xdb in kinds:
        s, e = rng.choice(kinds[0xdb])
        if rng.random() < 0.5 and s + 4 < len(b):
            b[s + 4] = rng.choice([0x04, 0x13, 0x10, 0xff])
            return bytes(b), "DQT table id"
        for o in range(s + 5, min(e, s + 69)):
            b[o] = 0
        return bytes(b), "DQT zeros"
    if c == 5 and 0xda in kinds:
        s, e = rng.choice(kinds[0xda])
        n = b[s + 4] if s + 4 < len(b) else 0
        f = rng.choice(["ns", "sel", "tables", "spectral", "approx"])
        end_hdr = s + 5 + 2 * n
        if f == "ns":
            b[s + 4] = rng.choice([0, 2, 4, 5])
        elif f == "sel" and n:
            b[s + 5] = rng.choice([0, 9, 255])
        elif f == "tables" and n:
            b[s + 6] = rng.choice([0x44, 0x0f, 0xf0, 0x11])
        elif f == "spectral" and end_hdr + 1 < len(b):
            b[end_hdr] = rng.choice([0, 1, 63, 64, 255])
            b[end_hdr + 1] = rng.choice([0, 1, 63, 64, 255])
        elif end_hdr + 2 < len(b):
            b[end_hdr + 2] = rng.choice([0x00, 0x10, 0x01, 0xff, 0x0d, 0xd0])
        return bytes(b), "SOS %s" % f
    if c == 6:
        ms = [x for x in segs if x[0] not in (0xd8,)]
        if ms:
            m, s, e = rng.choice(ms)
            return bytes(b[:s] + b[e:]), "marker 0x%02x dropped" % m
    if c == 7:
        ms = [x for x in segs if x[0] not in (0xd8,)]
        if ms:
            m, s, e = rng.choice(ms)
            at = rng.choice([x[1] for x in segs[1:]] + [len(b)])
            return bytes(b[:at] + b[s:e] + b[at:]), "marker 0x%02x repeated" % m
    if c == 8:
        dri = b"\xff\xdd\x00\x04" + struct.pack(">H", rng.choice([0, 1, 2, 65535]))
        at = rng.choice([x[1] for x in segs[1:]] or [2])
        return bytes(b[:at] + dri + b[at:]), "a DRI inserted"
    if c == 9 and 0xda in kinds:
        s, e = rng.choice(kinds[0xda])
        hdr = s + 4 + struct.unpack(">H", b[s + 2:s + 4])[0] - 2
        for _ in range(rng.choice([1, 2, 8, 32])):
            if e > hdr + 1:
                o = rng.randrange(hdr, e)
                b[o] = rng.randrange(256)
        return bytes(b), "scan data flipped"
    if c == 10:
        cut = rng.randrange(2, len(b))
        return bytes(b[:cut]), "cut at %d of %d" % (cut, len(b))
    if c == 11:
        seg = rng.choice(segs)
        if seg[2] - seg[1] >= 4 and seg[0] not in (0xd8, 0xd9) and not 0xd0 <= seg[0] <= 0xd7:
            s = seg[1]
            b[s + 2:s + 4] = struct.pack(">H", rng.choice([0, 1, 2, 3, 0xffff, struct.unpack(">H", b[s + 2:s + 4])[0] + 7]))
            return bytes(b), "marker 0x%02x length" % seg[0]
    if c == 12:
        app = b"\xff\xe1" + struct.pack(">H", 2 + 60) + b"Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\x00\x01\x01\x12\x00\x03\x00\x00\x00\x01\x00\x06" + b"\x00" * 30
        return bytes(b[:2] + app + b[2:]), "an EXIF orientation 6"
    for _ in range(rng.choice([1, 3, 10])):
        b[rng.randrange(len(b))] = rng.randrange(256)
    return bytes(b), "bytes flipped"


# ---- PNG ----

def png_chunks(b):
    out = []
    i = 8
    while i + 12 <= len(b):
        n = struct.unpack(">I", b[i:i + 4])[0]
        t = bytes(b[i + 4:i + 8])
        out.append([t, bytes(b[i + 8:i + 8 + n]), bytes(b[i + 8 + n:i + 12 + n])])
        i += 12 + n
        if t == b"IEND":
            break
    return out, bytes(b[i:])


def chunk(t, data, crc=None):
    c = struct.pack(">I", zlib.crc32(t + data) & 0xffffffff) if crc is None else crc
    return struct.pack(">I", len(data)) + t + data + c


def mutate_png(rng, b):
    chunks, tail = png_chunks(b)
    if not chunks:
        return b[:len(b) // 2], "cut"
    fixcrc = rng.random() < 0.85
    c = rng.randrange(11)
    what = ""
    ih = chunks[0]
    if c == 0 and ih[0] == b"IHDR" and len(ih[1]) == 13:
        d = bytearray(ih[1])
        f = rng.choice(["w", "h", "depth", "color", "interlace", "filter", "compression"])
        if f in ("w", "h"):
            v = rng.choice([0, 1, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 100000, 1 << 20, 3])
            d[0 if f == "w" else 4:][:4] = b""
            d[(0 if f == "w" else 4):(4 if f == "w" else 8)] = struct.pack(">I", v)
            what = "IHDR %s %d" % (f, v)
        else:
            o = {"depth": 8, "color": 9, "compression": 10, "filter": 11, "interlace": 12}[f]
            d[o] = rng.choice([0, 1, 2, 3, 4, 5, 6, 7, 8, 16, 255])
            what = "IHDR %s %d" % (f, d[o])
        ih[1] = bytes(d)
        ih[2] = None
    elif c == 1:
        idat = [x for x in chunks if x[0] == b"IDAT"]
        if idat:
            x = rng.choice(idat)
            try:
                raw = zlib.decompress(b"".join(y[1] for y in idat)) if rng.random() < 0.5 else None
            except zlib.error:
                raw = None
            if raw is not None:
                r = bytearray(raw)
                for _ in range(rng.choice([1, 4, 16])):
                    if r:
                        r[rng.randrange(len(r))] = rng.choice([0, 1, 2, 3, 4, 5, 255, rng.randrange(256)])
                first = chunks.index(idat[0])
                chunks = [y for y in chunks if y[0] != b"IDAT"]
                cut = rng.choice([len(r), len(r) // 2, len(r) + 100])
                r = bytes(r[:cut]) + b"\0" * max(0, cut - len(r))
                chunks.insert(first, [b"IDAT", zlib.compress(r), None])
                what = "pixel data changed (%d of %d bytes)" % (cut, len(raw))
            else:
                d = bytearray(x[1])
                for _ in range(rng.choice([1, 3])):
                    if d:
                        d[rng.randrange(len(d))] = rng.randrange(256)
                x[1] = bytes(d)
                x[2] = None
                what = "IDAT bytes flipped"
    elif c == 2:
        x = rng.randrange(len(chunks))
        what = "chunk %s dropped" % chunks[x][0].decode("latin-1")
        del chunks[x]
    elif c == 3:
        x = rng.randrange(len(chunks))
        chunks.insert(rng.randrange(len(chunks) + 1), list(chunks[x]))
        what = "chunk %s repeated" % chunks[x][0].decode("latin-1")
    elif c == 4 and len(chunks) > 2:
        i, j = rng.randrange(len(chunks)), rng.randrange(len(chunks))
        chunks[i], chunks[j] = chunks[j], chunks[i]
        what = "chunks %d and %d swapped" % (i, j)
    elif c == 5:
        t = rng.choice([b"PLTE", b"tRNS", b"aBCD", b"sBIT", b"gAMA", b"cHRM", b"iCCP", b"sRGB", b"zTXt"])
        data = rng.choice([b"", b"\x00" * 3, b"\xff" * 768, b"\x00" * 7, b"\x01\x02", zlib.compress(b"\0" * 100000)])
        chunks.insert(1, [t, data, None])
        what = "a %s chunk of %d bytes" % (t.decode(), len(data))
    elif c == 6:
        x = rng.choice(chunks)
        x[2] = b"\x00\x00\x00\x00"
        fixcrc = False
        what = "bad CRC on %s" % x[0].decode("latin-1")
    elif c == 7:
        out = b"\x89PNG\r\n\x1a\n" + b"".join(chunk(t, d, cr if not fixcrc else None) for t, d, cr in chunks) + tail
        cut = rng.randrange(8, len(out))
        return out[:cut], "cut at %d of %d" % (cut, len(out))
    elif c == 8:
        idat = [x for x in chunks if x[0] == b"IDAT"]
        try:
            raw = zlib.decompress(b"".join(y[1] for y in idat)) if idat else None
        except zlib.error:
            raw = None
        if raw is not None:
            first = chunks.index(idat[0])
            chunks = [y for y in chunks if y[0] != b"IDAT"]
            big = raw + b"\0" * rng.choice([1, 1000, 10 ** 7])
            chunks.insert(first, [b"IDAT", zlib.compress(big, 9), None])
            what = "pixel data %d bytes longer" % (len(big) - len(raw))
    elif c == 9:
        tail = tail + rng.choice([b"garbage", chunk(b"IDAT", b"\x78\x9c"), b"\0" * 100])
        what = "bytes after IEND"
    else:
        x = rng.choice(chunks)
        i = len(b"".join(chunk(t, d, cr if not fixcrc else None) for t, d, cr in chunks[:chunks.index(x)]))
        out = bytearray(b"\x89PNG\r\n\x1a\n" + b"".join(chunk(t, d, cr if not fixcrc else None) for t, d, cr in chunks) + tail)
        struct.pack_into(">I", out, 8 + i, rng.choice([0, 0x7fffffff, 0xffffffff, len(x[1]) + 1]))
        return bytes(out), "length of %s" % x[0].decode("latin-1")
    return b"\x89PNG\r\n\x1a\n" + b"".join(chunk(t, d, cr if not fixcrc else None) for t, d, cr in chunks) + tail, \
        what + ("" if fixcrc else " (CRC left)")


# ---- the PIL + torchvision reference (imagenet preset: RGB on load,
#      Resize(256, bilinear), CenterCrop(224)), written without torchvision ----

def pil_reference(path):
    """(array, None) or (None, why PIL refuses the file)."""
    from PIL import Image
    import warnings
    from PIL import ImageFile
    why = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            im = Image.open(path)
            try:
                im.load()
            except Exception as ex:  # noqa: BLE001 - damaged after the header: what PIL has so far
                why = "partial: %s: %s" % (type(ex).__name__, ex)
                ImageFile.LOAD_TRUNCATED_IMAGES = True
                try:
                    im = Image.open(path)
                    im.load()
                finally:
                    ImageFile.LOAD_TRUNCATED_IMAGES = False
            im = im.convert("RGB")
    except Exception as ex:  # noqa: BLE001 - whatever PIL refuses
        return None, "%s: %s" % (type(ex).__name__, ex)
    w, h = im.size
    short, long_ = (w, h) if w <= h else (h, w)
    ns, nl = 256, int(256 * long_ / short)
    nw, nh = (ns, nl) if w <= h else (nl, ns)
    if nw * nh > 20_000_000:  # PIL would resize it whole: gigabytes
        return "large", None
    if (nw, nh) != (w, h):
        im = im.resize((nw, nh), Image.BILINEAR)
    top = int(round((nh - 224) / 2.0))
    left = int(round((nw - 224) / 2.0))
    im = im.crop((left, top, left + 224, top + 224))
    return np.asarray(im), why


def png_pixels_complete(b):
    """Do the file's IDAT chunks, in order, inflate to all the rows its IHDR
    needs (whatever comes after them)?"""
    chunks, _ = png_chunks(b)
    if not chunks or chunks[0][0] != b"IHDR" or len(chunks[0][1]) != 13:
        return False
    w, h, depth, color, _, _, inter = struct.unpack(">IIBBBBB", chunks[0][1])
    ch = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}.get(color)
    if ch is None or w * h > 1 << 26:
        return False
    bits = ch * depth
    rows = lambda pw, ph: ph * (1 + (pw * bits + 7) // 8) if pw and ph else 0
    if inter:
        passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
        need = sum(rows((w - x0 + dx - 1) // dx if w > x0 else 0, (h - y0 + dy - 1) // dy if h > y0 else 0)
                   for x0, y0, dx, dy in passes)
    else:
        need = rows(w, h)
    z = zlib.decompressobj()
    got = 0
    try:
        for t, d, _ in chunks:
            if t == b"IDAT" and not z.eof:
                got += len(z.decompress(d, need + 1 - got)) if got <= need else 0
    except zlib.error:
        return False
    return got >= need


def image_records(data):
    out = []
    for r, _, _ in mp.Stream(data).records:
        if isinstance(r, mp.Pairs) and r.get("type") in ("image", "error"):
            t = r.get("tensor")
            out.append((r.get("type"), r.get("id"), r.get("label"),
                        bytes(t.get("data")) if isinstance(t, mp.Pairs) else r.get("message")))
    return out


def build(case, rng, ctx):
    seed = rng.choice(SEEDS)
    data = open(os.path.join(ctx.seeddir, seed), "rb").read()
    ext = os.path.splitext(seed)[1]
    for i in range(rng.choice([1, 1, 2, 3])):
        if len(data) < 16:
            break  # nothing left to change
        data, what = (mutate_jpeg if ext == ".jpg" else mutate_png)(rng, data)
        case.what.append(what)
    case.what.insert(0, "seed " + seed)
    name = case.write("in" + ext, data)
    other = case.write("seed" + ext, open(os.path.join(ctx.seeddir, seed), "rb").read())
    case.runs = [Run("imgdecode", ["--preset", "imagenet", name], produces={"image"}),
                 Run("imgdecode", ["--preset", "imagenet", "--full-decode", name], produces={"image"})]
    extra = rng.choice([
        Run("imgdecode", ["-j", "2", "--preset", "imagenet", name, other], produces={"image"}),
        Run("imgdecode", ["--dtype", "float32", name], produces={"image"}),
        Run("imgdecode", ["--fast", "--dtype", "float16", name], produces={"image"}),
        Run("imgdecode", ["--border", "2", "--preset", "imagenet-v2", name], produces={"image"}),
        Run("imgdecode", ["--max-memory", "8M", "--max-pixels", "1000000", name], produces={"image"}),
        Run("imgdecode", ["--strict", "--preset", "clip", name], produces={"image"}),
    ])
    case.runs.append(extra)
    case.oracle = image_oracle(name)


def image_oracle(name):
    def oracle(case):
        a, b = case.runs[0], case.runs[1]
        ra, rb = image_records(a.stdout), image_records(b.stdout)
        if (a.rc, ra) != (b.rc, rb):
            return ["imgdecode: the window decode (exit %d) and --full-decode (exit %d) differ: %s" % (
                a.rc, b.rc, "; ".join("%s %s" % (x[0], x[3] if x[0] == "error" else "tensor") for x in ra + rb)[:300])]
        x = case.runs[2]
        if x.args[:2] == ["-j", "2"] and x.rc is not None:
            rx = image_records(x.stdout)
            if len(rx) != 2 or rx[0][0] != ra[0][0] or rx[0][2:] != ra[0][2:]:
                return ["imgdecode -j 2 on the file and its undamaged seed: %s, where -j 1 gave %s" % (
                    [(r[0], r[1]) for r in rx], [(r[0], r[1]) for r in ra])]
        if a.rc == 0 and ra and ra[0][0] == "image":
            ref, why = pil_reference(case.path(name))
            if isinstance(ref, str):
                return []
            if ref is None and name.endswith(".png") and png_pixels_complete(case.read(name)):
                return ["imgdecode exit 0 and an image record, but PIL refuses the file after its pixels "
                        "(their zlib data is whole): %s" % why[:200]]
            if ref is None:
                return ["imgdecode exit 0 and an image record, but PIL refuses the file: %s" % why[:200]]
            got = np.frombuffer(ra[0][3], np.uint8)
            same = got.size == ref.size and np.array_equal(got.reshape(ref.shape), ref)
            if why and same:
                return ["imgdecode exit 0 and an image record, but PIL refuses the file after its pixels "
                        "(they agree): %s" % why[9:200]]
            if why:
                return ["imgdecode exit 0 on a file PIL finds damaged (%s), and its crop differs from the "
                        "pixels PIL has" % why[9:200]]
            if not same:
                d = np.abs(got.reshape(ref.shape).astype(int) - ref.astype(int)) if got.size == ref.size else None
                return ["imgdecode exit 0, but its crop differs from PIL + torchvision's: %s" % (
                    "max |diff| %d, %d of %d values" % (d.max(), (d > 0).sum(), d.size) if d is not None else "size")]
        return []
    return oracle
