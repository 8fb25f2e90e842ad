#!/usr/bin/env python3
"""webdataset_make.py - build WebDataset tar shards for imgdecode's tests.

Usage:
  webdataset_make.py shards OUTDIR LABELS.tsv IMAGE...
      two shards OUTDIR/part-0.tar, part-1.tar (first half, second half of
      the images in the order given): KEY.jpg + KEY.cls (the index from
      LABELS.tsv, file<TAB>wnid<TAB>index), KEY the file name up to its first '.'
  webdataset_make.py hostile OUTDIR GOOD.jpg
      hostile shards, each with a good sample (key 'good', class 7) first:
      paths.tar (../ and absolute names, a symlink, a pax long name),
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


def main():
    mode, out = sys.argv[1], sys.argv[2]
    if mode == "shards":
        labels = {}
        for line in open(sys.argv[3]).read().splitlines()[1:]:
            f, _, idx = line.split("\t")
            labels[f] = idx
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
