#!/usr/bin/env python3
"""ckpt_compare.py MANIFEST NAME < ckptinfo --json --tensor-sha256 output

Checks that what ckptinfo read from fixture NAME matches what make_checkpoints.py
wrote (checksums.json): same format, size and file sha256 (when listed), the same tensor names
in the same order, and per tensor the same dtype, shape, byte count and sha256 of
the bytes. Prints every difference; exit 1 if any, 0 if none.
"""
import json
import sys


def main():
    manifest_path, name = sys.argv[1], sys.argv[2]
    want = json.load(open(manifest_path))[name]
    got = json.loads(sys.stdin.readline())
    bad = []
    for key in ("format", "sha256", "size"):
        if key == "sha256" and key not in got:
            continue  # ckptinfo -H: the file hash was not asked for
        if got.get(key) != want[key]:
            bad.append(f"{key}: got {got.get(key)!r}, want {want[key]!r}")
    gt = {t["name"]: t for t in got["tensors"]}
    wt = {t["name"]: t for t in want["tensors"]}
    for n in wt:
        if n not in gt:
            bad.append(f"missing tensor {n}")
            continue
        for key in ("dtype", "shape", "nbytes", "sha256"):
            if gt[n][key] != wt[n][key]:
                bad.append(f"{n}: {key} got {gt[n][key]!r}, want {wt[n][key]!r}")
    for n in gt:
        if n not in wt:
            bad.append(f"unexpected tensor {n}")
    # a TorchScript archive keeps attribute order, which need not be state_dict order
    if not bad and want["format"] != "torchscript" and \
            [t["name"] for t in got["tensors"]] != [t["name"] for t in want["tensors"]]:
        bad.append("tensor order differs from the file's")
    for line in bad[:40]:
        print(f"{name}: {line}")
    if len(bad) > 40:
        print(f"{name}: ... {len(bad) - 40} more")
    print(f"{name}: {len(wt)} tensors, {len(bad)} differences")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
