#!/usr/bin/env python3
"""imgdecode_records.py - print one line per image/error record of a stream:
type, id, label, and a hash of the tensor (or the message), so that shell
tests can compare runs (-j N against -j 1, shards against the whole) with
cmp or sort, ignoring the header and stats records whose argv and times differ.

Usage: imgdecode_records.py STREAM...   (concatenated in the order given)
"""
import hashlib
import sys

import msgpack

for path in sys.argv[1:]:
    with open(path, "rb") as f:
        for r in msgpack.Unpacker(f, raw=False, max_buffer_size=1 << 31):
            if r["type"] == "image":
                t = r["tensor"]
                h = hashlib.sha256(t["data"]).hexdigest()[:16]
                print(f"image\t{r['id']}\t{r['label']}\t{t['dtype']}{t['shape']}\t{h}")
            elif r["type"] == "error":
                print(f"error\t{r['id']}\t{r['label']}\t{r['message']}")
