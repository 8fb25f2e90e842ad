#!/usr/bin/env python3
"""objectnet_make.py - a small tree in ObjectNet 1.0's layout, for the tests.

Usage: objectnet_make.py OUTDIR WNIDS LABELS.tsv IMAGE...

Writes OUTDIR/images/FOLDER/*.png and OUTDIR/mappings/ in the formats
ObjectNet ships (see pipelines/objectnet-map): three ObjectNet classes that
overlap ImageNet, one of them two ImageNet classes, and one that does not.
The ImageNet names are made up ("class N"), and imagenet_to_label_2012_v2 lists
them in a shuffled order, so that only the pytorch_to_imagenet_2012_id map
puts them right. Images are the given JPEGs re-saved as PNG with a 1-pixel
red frame, one folder per class in this order: alarm_clock (ImageNet classes
of the first two images), banana (the third's), chair (the fourth's), and
not_imagenet (the rest, which the mapping leaves out).
"""
import json
import os
import random
import sys

from PIL import Image, ImageOps

out, wnids_path, labels_path, imgs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
label = {}
for line in open(labels_path):
    f = line.rstrip("\n").split("\t")
    if f[-1].isdigit():
        label[f[0]] = int(f[-1])
cls = [label[os.path.basename(p)] for p in imgs]
folders = {"alarm_clock": ("Alarm clock", imgs[:2], cls[:2]), "banana": ("Banana", imgs[2:3], cls[2:3]),
           "chair": ("Chair", imgs[3:4], cls[3:4]), "not_imagenet": ("Not ImageNet", imgs[4:], [])}
os.makedirs(os.path.join(out, "mappings"))
order = list(range(1000))
random.Random(7).shuffle(order)  # line i of the names file is torchvision class order[i]
with open(os.path.join(out, "mappings", "imagenet_to_label_2012_v2"), "w") as f:
    f.writelines(f"class {c}\n" for c in order)
json.dump({str(c): i for i, c in enumerate(order)}, open(os.path.join(out, "mappings", "pytorch_to_imagenet_2012_id.json"), "w"))
json.dump({k: v[0] for k, v in folders.items()}, open(os.path.join(out, "mappings", "folder_to_objectnet_label.json"), "w"))
json.dump({v[0]: "; ".join(f"class {c}" for c in v[2]) for v in folders.values() if v[2]},
          open(os.path.join(out, "mappings", "objectnet_to_imagenet_1k.json"), "w"))
for folder, (_, paths, _) in folders.items():
    os.makedirs(os.path.join(out, "images", folder))
    for p in paths:
        im = Image.open(p).convert("RGB")
        im = ImageOps.expand(im.crop((1, 1, im.width - 1, im.height - 1)), border=1, fill=(255, 0, 0))
        im.save(os.path.join(out, "images", folder, os.path.splitext(os.path.basename(p))[0] + ".png"))
