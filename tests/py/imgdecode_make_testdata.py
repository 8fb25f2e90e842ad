#!/usr/bin/env python3
"""imgdecode_make_testdata.py - regenerate testdata/imgdecode/ (run once; the files are committed).

Needs Debian's python3-pil and numpy, libjpeg-turbo-progs (cjpeg, jpegtran) and
a C compiler with libjpeg62-turbo-dev (a tiny encoder for YCCK and
2-component files, which no tool writes). Content is synthetic: smooth
gradients plus noise, so that resizing and chroma upsampling have detail.

Good images (decoded by PIL; imgdecode must match it byte for byte):
  sub444/422/420/440/411.jpg   chroma subsampling variants, odd sizes
  gray.jpg, gray_prog.jpg       grayscale, baseline and progressive
  rgb.jpg                       RGB JPEG (no YCbCr transform)
  cmyk.jpg, ycck.jpg            Adobe CMYK (transform 0) and YCCK (transform 2)
  progressive.jpg               progressive 4:2:0
  prog_smooth.jpg               progressive without refinement scans: libjpeg's
                                block smoothing is active at the end
  arith.jpg, arith_prog.jpg     arithmetic coded, sequential and progressive
  restart.jpg, restart_prog.jpg restart markers every MCU row / 5 blocks
  tiny_1x1 .. tiny_7x5.jpg      tiny images (smaller than every crop)
  small_100x80.jpg              upscaled by every preset
  wide_1200x40.jpg, tall_40x900.jpg  elongated
  large_2600x1900.jpg           DCT-scaled in --fast mode (>= 8x the target)
  trailing.jpg                  bytes after the EOI marker
  no_eoi.jpg                    the final EOI marker cut off (PIL decodes it)
  corrupt_data.jpg              damaged entropy data: libjpeg warns, recovers
  png_*.png                     every PNG color type and depth, interlaced,
                                palette with tRNS, 16-bit
  png_no_plte.png               a palette image without PLTE (Pillow: grey ramp)
  png_idat_crc.png              a bad IDAT CRC (Pillow never checks it)
Bad inputs (error records):
  empty.jpg, text.jpg, gif.gif, truncated.jpg, truncated_prog.jpg,
  bad_header.jpg, huge_dims.jpg (30000 x 30000 header), two_comp.jpg,
  many_scans.jpg (600 scans: refused after 500; PIL decodes it, slowly),
  truncated.png, bad_crc.png, png_text_crc.png (a bad CRC in a chunk before
  the image data: Pillow refuses it, ancillary or not)
"""
import io
import os
import struct
import subprocess
import sys
import tempfile
import zlib

import numpy as np
from PIL import Image

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "../../testdata/imgdecode")
rs = np.random.RandomState(1234)


def synth(w, h, c=3):
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    chans = []
    for i in range(c):
        base = 128 + 90 * np.sin(x / (7 + 3 * i) + y / (11 + 2 * i) + i) * np.cos(y / (5 + i))
        chans.append(base + rs.normal(0, 5, (h, w)))
    a = np.clip(np.stack(chans, -1), 0, 255).astype(np.uint8)
    return a if c > 1 else a[..., 0]


def path(name):
    return os.path.join(OUT, name)


def ppm(a, name):
    p = os.path.join(tmp, name)
    Image.fromarray(a).save(p)
    return p


def run(*cmd, out):
    with open(out, "wb") as f:
        subprocess.run(cmd, check=True, stdout=f)


ENCODER_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <jpeglib.h>
/* enc W H NCOMP SPACE(ycck|cmyk|unknown) OUT < raw interleaved pixels */
int main(int argc, char **argv) {
  int w = atoi(argv[1]), h = atoi(argv[2]), n = atoi(argv[3]);
  struct jpeg_compress_struct c; struct jpeg_error_mgr e;
  unsigned char *buf = malloc((size_t)w * h * n);
  if (fread(buf, 1, (size_t)w * h * n, stdin) != (size_t)w * h * n) return 1;
  c.err = jpeg_std_error(&e); jpeg_create_compress(&c);
  FILE *f = fopen(argv[5], "wb"); jpeg_stdio_dest(&c, f);
  c.image_width = w; c.image_height = h; c.input_components = n;
  c.in_color_space = n == 4 ? JCS_CMYK : JCS_UNKNOWN;
  jpeg_set_defaults(&c);
  jpeg_set_colorspace(&c, argv[4][0] == 'y' ? JCS_YCCK : argv[4][0] == 'c' ? JCS_CMYK : JCS_UNKNOWN);
  jpeg_set_quality(&c, 90, TRUE);
  jpeg_start_compress(&c, TRUE);
  while (c.next_scanline < c.image_height) {
    JSAMPROW r = buf + (size_t)c.next_scanline * w * n; jpeg_write_scanlines(&c, &r, 1);
  }
  jpeg_finish_compress(&c); fclose(f); return 0;
}
"""


def encoder():
    src = os.path.join(tmp, "enc.c")
    exe = os.path.join(tmp, "enc")
    open(src, "w").write(ENCODER_C)
    subprocess.run(["cc", "-O1", "-o", exe, src, "-ljpeg"], check=True)
    return exe


def png_chunk(t, data):
    return struct.pack(">I", len(data)) + t + data + struct.pack(">I", zlib.crc32(t + data) & 0xFFFFFFFF)


def png_chunks(b):
    """(type, whole chunk bytes) of a PNG file, in order."""
    out, i = [], 8
    while i < len(b):
        n = struct.unpack(">I", b[i:i + 4])[0]
        out.append((b[i + 4:i + 8], b[i:i + 12 + n]))
        i += 12 + n
    return out


def png_chunk_cases(good_png, pal_png):
    """Where Pillow's chunk handling and libpng's differ (from png_rgb.png and png_p.png)."""
    sig = b"\x89PNG\r\n\x1a\n"
    open(path("png_no_plte.png"), "wb").write(sig + b"".join(c for t, c in png_chunks(pal_png) if t != b"PLTE"))
    idat = b"".join(c[:-4] + b"\0\0\0\0" if t == b"IDAT" else c for t, c in png_chunks(good_png))
    open(path("png_idat_crc.png"), "wb").write(sig + idat)
    chunks = png_chunks(good_png)
    text = png_chunk(b"tEXt", b"Comment\0hello")
    text = text[:-4] + bytes(4)
    open(path("png_text_crc.png"), "wb").write(sig + chunks[0][1] + text + b"".join(c for t, c in chunks[1:]))


def main():
    global tmp
    os.makedirs(OUT, exist_ok=True)
    tmp = tempfile.mkdtemp()
    rgb = synth(333, 251)
    for name, sample in [("sub444", "1x1"), ("sub422", "2x1"), ("sub420", "2x2"), ("sub440", "1x2"), ("sub411", "4x1")]:
        run("cjpeg", "-quality", "85", "-sample", sample, ppm(rgb, "a.ppm"), out=path(name + ".jpg"))
    g = synth(301, 227, 1)
    Image.fromarray(g).save(path("gray.jpg"), quality=88)
    Image.fromarray(g).save(path("gray_prog.jpg"), quality=88, progressive=True)
    run("cjpeg", "-rgb", "-quality", "90", ppm(synth(210, 160), "r.ppm"), out=path("rgb.jpg"))
    cmyk = synth(200, 160, 4)
    Image.fromarray(cmyk, "CMYK").save(path("cmyk.jpg"), quality=90)
    enc = encoder()
    subprocess.run([enc, "200", "160", "4", "ycck", path("ycck.jpg")], input=cmyk.tobytes(), check=True)
    two = synth(64, 48, 2)
    subprocess.run([enc, "64", "48", "2", "unknown", path("two_comp.jpg")], input=two.tobytes(), check=True)
    big = synth(421, 317)
    Image.fromarray(big).save(path("progressive.jpg"), quality=85, progressive=True)
    base = path("progressive.jpg")
    scans = os.path.join(tmp, "scans.txt")
    # DC and the first AC bands only at reduced precision, never refined: the
    # coefficients stay incomplete, so libjpeg's block smoothing runs.
    open(scans, "w").write("0,1,2: 0-0, 0, 1;\n0: 1-5, 0, 2;\n2: 1-63, 0, 1;\n1: 1-63, 0, 1;\n0: 6-63, 0, 2;\n")
    run("jpegtran", "-scans", scans, base, out=path("prog_smooth.jpg"))
    run("jpegtran", "-arithmetic", path("sub420.jpg"), out=path("arith.jpg"))
    run("jpegtran", "-arithmetic", "-progressive", path("sub420.jpg"), out=path("arith_prog.jpg"))
    run("jpegtran", "-restart", "1", path("sub420.jpg"), out=path("restart.jpg"))
    run("jpegtran", "-restart", "5B", "-progressive", path("sub422.jpg"), out=path("restart_prog.jpg"))
    for w, h in [(1, 1), (2, 3), (7, 5)]:
        Image.fromarray(synth(w, h)).save(path(f"tiny_{w}x{h}.jpg"), quality=90)
    Image.fromarray(synth(100, 80)).save(path("small_100x80.jpg"), quality=90)
    Image.fromarray(synth(1200, 40)).save(path("wide_1200x40.jpg"), quality=80)
    Image.fromarray(synth(40, 900)).save(path("tall_40x900.jpg"), quality=80)
    y, x = np.mgrid[0:1900, 0:2600]
    smooth = np.stack([(x * 255 // 2600), (y * 255 // 1900), ((x + y) * 255 // 4500)], -1).astype(np.uint8)
    Image.fromarray(smooth).save(path("large_2600x1900.jpg"), quality=60)
    good = open(path("sub420.jpg"), "rb").read()
    open(path("trailing.jpg"), "wb").write(good + b"trailing garbage after EOI\n" * 4)
    open(path("no_eoi.jpg"), "wb").write(good[:-2])
    sos = good.index(b"\xff\xda")
    bad = bytearray(good)
    for off in range(sos + 400, len(bad) - 200, 997):
        bad[off] ^= 0x5A
        if bad[off] == 0xFF:
            bad[off] = 0x00
    open(path("corrupt_data.jpg"), "wb").write(bytes(bad))
    # bad inputs
    open(path("empty.jpg"), "wb").close()
    open(path("text.jpg"), "w").write("this is not an image\n")
    Image.fromarray(synth(20, 10)).save(path("gif.gif"))
    open(path("truncated.jpg"), "wb").write(good[: len(good) // 2])
    prog = open(path("progressive.jpg"), "rb").read()
    open(path("truncated_prog.jpg"), "wb").write(prog[: len(prog) * 2 // 3])
    sof = good.index(b"\xff\xc0")
    hdr = bytearray(good)
    hdr[sof + 5 : sof + 9] = b"\x00\x00\x00\x00"  # height 0, width 0
    open(path("bad_header.jpg"), "wb").write(bytes(hdr))
    huge = bytearray(good)
    huge[sof + 5 : sof + 9] = struct.pack(">HH", 30000, 30000)
    open(path("huge_dims.jpg"), "wb").write(bytes(huge[: sos + 200]))
    # PNGs: every color type and depth Pillow maps to a mode
    pa = synth(97, 71)
    Image.fromarray(pa).save(path("png_rgb.png"))
    Image.fromarray(pa[..., 0]).save(path("png_l.png"))
    Image.fromarray(np.dstack([pa, synth(97, 71, 1)])).save(path("png_rgba.png"))
    Image.fromarray(np.dstack([pa[..., 1], synth(97, 71, 1)])).save(path("png_la.png"))
    Image.fromarray(pa).convert("P", palette=Image.ADAPTIVE, colors=200).save(path("png_p.png"))
    pt = Image.fromarray(pa).convert("P", palette=Image.ADAPTIVE, colors=16)
    pt.save(path("png_p4_trns.png"), transparency=bytes([128] * 16), bits=4)
    Image.fromarray(pa[..., 2] > 128).save(path("png_1bit.png"))
    Image.fromarray((synth(97, 71, 1).astype(np.uint16) * 200 + 17).astype(np.uint16)).save(path("png_i16.png"))
    raw16 = (synth(61, 43).astype(np.uint16) * 257 + rs.randint(0, 200, (43, 61, 3))).astype(">u2")
    rows = b"".join(b"\x00" + raw16[r].tobytes() for r in range(43))
    ihdr = struct.pack(">IIBBBBB", 61, 43, 16, 2, 0, 0, 0)
    open(path("png_rgb16.png"), "wb").write(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(rows)) + png_chunk(b"IEND", b""))
    la16 = (synth(61, 43, 2).astype(np.uint16) * 257).astype(">u2")
    rows = b"".join(b"\x00" + la16[r].tobytes() for r in range(43))
    ihdr = struct.pack(">IIBBBBB", 61, 43, 16, 4, 0, 0, 0)
    open(path("png_la16.png"), "wb").write(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(rows)) + png_chunk(b"IEND", b""))
    g2 = (synth(61, 43, 1) >> 6).astype(np.uint8)  # 2-bit gray, packed 4 per byte
    packed = b"".join(b"\x00" + np.packbits(np.unpackbits(g2[r][:, None], axis=1)[:, 6:].reshape(-1)).tobytes() for r in range(43))
    ihdr = struct.pack(">IIBBBBB", 61, 43, 2, 0, 0, 0, 0)
    open(path("png_l2.png"), "wb").write(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(packed)) + png_chunk(b"IEND", b""))
    # interlaced RGB (Adam7; PIL cannot write it): each pass's rows, filter 0
    ia = synth(45, 37)
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
    data = b""
    for x0, y0, dx, dy in passes:
        sub = ia[y0::dy, x0::dx]
        if sub.size:
            data += b"".join(b"\x00" + sub[r].tobytes() for r in range(sub.shape[0]))
    ihdr = struct.pack(">IIBBBBB", 45, 37, 8, 2, 0, 0, 1)
    open(path("png_interlaced.png"), "wb").write(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(data)) + png_chunk(b"IEND", b""))
    good_png = open(path("png_rgb.png"), "rb").read()
    open(path("truncated.png"), "wb").write(good_png[: len(good_png) // 2])
    crc = bytearray(good_png)
    crc[29] ^= 0xFF  # the IHDR CRC
    open(path("bad_crc.png"), "wb").write(bytes(crc))
    png_chunk_cases(good_png, open(path("png_p.png"), "rb").read())
    # 600 copies of the last scan of a small progressive file: libjpeg warns
    # and goes on; imgdecode stops at 500 scans (a hang guard)
    buf = io.BytesIO()
    Image.fromarray(synth(24, 16)).save(buf, "JPEG", quality=90, progressive=True)
    tp = buf.getvalue()
    last = tp.rindex(b"\xff\xda")
    open(path("many_scans.jpg"), "wb").write(tp[:last] + tp[last:-2] * 600 + b"\xff\xd9")
    print("wrote", len(os.listdir(OUT)), "files to", OUT)


if __name__ == "__main__":
    main()
