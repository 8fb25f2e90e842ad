#!/usr/bin/env python3
"""ckpt_files.py OUTDIR - handmade checkpoint files for the reader's tests (stdlib only).

Writes into OUTDIR:
  good/*      files the reader must accept, built opcode by opcode so that rare but
              legal forms are covered: a ZIP64 archive with misaligned storages, a
              TorchScript-style object tree (NEWOBJ/BUILD, build_intlist, protocol 4
              FRAME/MEMOIZE/STACK_GLOBAL/SHORT_BINUNICODE), a legacy file with a
              storage view, a safetensors file with escaped names and metadata.
  good.json   their manifest, in the format of make_checkpoints.py's checksums.json
  bad/*       hostile or broken files, each listed in
  bad.tsv     "file<TAB>extended regex the error line must match"
Everything here is deterministic, so the fuzz corpus can be made from it too.
"""
import hashlib
import json
import os
import struct
import sys
import zipfile
import zlib

# ------------------------------------------------------------------ pickle emitter

DT = {"f4": ("FloatStorage", "float32", 4, "<f"), "f2": ("HalfStorage", "float16", 2, "<e"),
      "i8": ("LongStorage", "int64", 8, "<q"), "u1": ("ByteStorage", "uint8", 1, "<B"),
      "i4": ("IntStorage", "int32", 4, "<i")}


class P:
    """Protocol-2 pickle bytes, written opcode by opcode."""

    def __init__(self, proto=2):
        self.b = bytearray(b"\x80" + bytes([proto]))

    def raw(self, x):
        self.b += x
        return self

    def glob(self, mod, name):
        return self.raw(b"c" + f"{mod}\n{name}\n".encode())

    def s(self, x):
        e = x.encode()
        return self.raw(b"X" + struct.pack("<I", len(e)) + e)

    def i(self, v):
        if 0 <= v < 256:
            return self.raw(b"K" + bytes([v]))
        if 0 <= v < 65536:
            return self.raw(b"M" + struct.pack("<H", v))
        if -2 ** 31 <= v < 2 ** 31:
            return self.raw(b"J" + struct.pack("<i", v))
        return self.raw(b"\x8a\x08" + struct.pack("<q", v))

    def mark(self):
        return self.raw(b"(")

    def tup(self, items):
        self.mark()
        for v in items:
            self.i(v)
        return self.raw(b"t")

    def stop(self):
        return bytes(self.raw(b".").b)

    def tensor(self, stype, key, numel, offset, shape, stride, view=None):
        """_rebuild_tensor_v2(storage, offset, shape, stride, False, OrderedDict())."""
        self.glob("torch._utils", "_rebuild_tensor_v2").mark()
        self.mark().s("storage").glob("torch", stype).s(key).s("cpu").i(numel)
        if view is not None:
            self.mark().s(view[0]).i(view[1]).i(view[2]).raw(b"t")
        elif view is None and getattr(self, "legacy", False):
            self.raw(b"N")
        self.raw(b"tQ").i(offset).tup(shape).tup(stride).raw(b"\x89")
        self.glob("collections", "OrderedDict").raw(b")R")
        return self.raw(b"tR")

    def state_dict(self, tensors):
        """OrderedDict of name -> tensor(args) for tensors = [(name, args), ...]."""
        self.glob("collections", "OrderedDict").raw(b")R").mark()
        for name, args in tensors:
            self.s(name)
            self.tensor(*args)
        return self.raw(b"u")


def zip_bytes(entries, compress=()):
    """A zip (via zipfile, stored unless named in compress) of (name, bytes)."""
    import io
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED if name in compress else zipfile.ZIP_STORED
            z.writestr(info, data)
    return buf.getvalue()


def zip64_bytes(entries):
    """A zip written by hand with every size and offset in ZIP64 extra fields, a
    ZIP64 end record and its locator; a 3-byte pad keeps the data misaligned."""
    out, cd = bytearray(), bytearray()
    for name, data in entries:
        n = name.encode()
        off = len(out)
        crc = zlib.crc32(data)
        lextra = struct.pack("<HHQQ", 1, 16, len(data), len(data)) + b"\0" * 3
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 0, 0, 0x21, crc, 0xFFFFFFFF, 0xFFFFFFFF,
                           len(n), len(lextra)) + n + lextra + data
        cextra = struct.pack("<HHQQQ", 1, 24, len(data), len(data), off)
        cd += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 0, 0, 0x21, crc, 0xFFFFFFFF,
                          0xFFFFFFFF, len(n), len(cextra), 0, 0, 0, 0, 0xFFFFFFFF) + n + cextra
    cd_off = len(out)
    out += cd
    z64 = len(out)
    out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, len(entries), len(entries), len(cd), cd_off)
    out += struct.pack("<IIQI", 0x07064B50, 0, z64, 1)
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    return bytes(out)


def torch_zip(pkl, storages, prefix="archive", compress=()):
    entries = [(f"{prefix}/data.pkl", pkl)]
    entries += [(f"{prefix}/data/{k}", v) for k, v in storages.items()]
    entries.append((f"{prefix}/version", b"3\n"))
    return zip_bytes(entries, {f"{prefix}/{c}" for c in compress})


LEGACY_MAGIC = bytes.fromhex("80028a0a6cfc9c46f9206aa85019" + "2e")


def legacy_bytes(obj_pickle, storages, keys=None, little_endian=True):
    """Legacy torch.save layout: magic, 1001, sys info, object, keys, storages."""
    out = bytearray(LEGACY_MAGIC)
    out += P().i(1001).stop()
    si = P().raw(b"}").mark().s("protocol_version").i(1001).s("little_endian")
    si.raw(b"\x88" if little_endian else b"\x89").raw(b"u")
    out += si.stop()
    out += obj_pickle
    keys = list(storages) if keys is None else keys
    kp = P().raw(b"]").mark()
    for k in keys:
        kp.s(k)
    out += kp.raw(b"e").stop()
    for k in keys:
        itemsize, data = storages[k]
        out += struct.pack("<q", len(data) // itemsize) + data
    return bytes(out)


def safetensors_bytes(header, data, raw_header=None):
    h = raw_header if raw_header is not None else json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + data


# ------------------------------------------------------------------ manifest helpers

def pack(fmt, values):
    return b"".join(struct.pack(fmt, v) for v in values)


def row(name, dtype, shape, data):
    return {"name": name, "dtype": dtype, "shape": shape, "nbytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest()}


def strided(values, offset, shape, stride):
    """Elements of a strided view, C order."""
    out = []

    def rec(d, base):
        if d == len(shape):
            out.append(values[base])
            return
        for k in range(shape[d]):
            rec(d + 1, base + k * stride[d])
    rec(0, offset)
    return out


# ------------------------------------------------------------------ good files

def good_files():
    files = {}
    # 1. ZIP64 archive, misaligned storages, views (offset, transpose, stride 0)
    a = [float(x) * 0.5 - 3 for x in range(24)]
    h = [float(x) / 8 for x in range(10)]
    q = [-(2 ** 40), 5, 2 ** 62]
    p = P().state_dict([
        ("w", ("FloatStorage", "0", 24, 0, [4, 6], [6, 1])),
        ("w_t", ("FloatStorage", "0", 24, 0, [6, 4], [1, 6])),
        ("w_tail", ("FloatStorage", "0", 24, 13, [5], [2])),
        ("h", ("HalfStorage", "1", 10, 1, [3, 3], [3, 1])),
        ("bcast", ("HalfStorage", "1", 10, 4, [2, 3], [0, 1])),
        ("q", ("LongStorage", "2", 3, 0, [3], [1])),
        ("scalar", ("LongStorage", "2", 3, 2, [], [])),
    ]).stop()
    st = {"0": pack("<f", a), "1": pack("<e", h), "2": pack("<q", q)}
    entries = [("zip64/data.pkl", p)] + [(f"zip64/data/{k}", v) for k, v in st.items()]
    files["zip64.pth"] = (zip64_bytes(entries + [("zip64/version", b"3\n")]), "pytorch-zip", [
        row("w", "float32", [4, 6], pack("<f", a)),
        row("w_t", "float32", [6, 4], pack("<f", strided(a, 0, [6, 4], [1, 6]))),
        row("w_tail", "float32", [5], pack("<f", strided(a, 13, [5], [2]))),
        row("h", "float16", [3, 3], pack("<e", h[1:10])),
        row("bcast", "float16", [2, 3], pack("<e", strided(h, 4, [2, 3], [0, 1]))),
        row("q", "int64", [3], pack("<q", q)),
        row("scalar", "int64", [], pack("<q", q[2:])),
    ])

    # 2. TorchScript-style object tree, protocol 4 opcodes
    p = P(proto=4)
    p.raw(b"\x95" + struct.pack("<Q", 0))                       # FRAME
    p.raw(b"\x8c\x13__torch__.mod.Outer\x94")                   # SHORT_BINUNICODE + MEMOIZE
    p.raw(b"\x8c\x03Net\x94\x93\x94)\x81\x94}\x94(")            # STACK_GLOBAL, NEWOBJ, state dict
    p.raw(b"\x8c\x08training\x94\x88")
    p.raw(b"\x8c\x04conv\x94").glob("__torch__.torch.nn.modules.conv", "Conv2d").raw(b")\x81}(")
    p.s("weight").tensor("FloatStorage", "0", 24, 0, [2, 3, 2, 2], [12, 4, 2, 1])
    p.s("bias").raw(b"N")
    p.s("stride").glob("torch.jit._pickle", "build_intlist").raw(b"]").mark().i(1).i(1).raw(b"e\x85R")
    p.raw(b"ub")                                                # SETITEMS, BUILD conv
    p.raw(b"\x8c\x06blocks\x94").glob("__torch__.torch.nn.modules.container", "Sequential").raw(b")\x81}(")
    p.s("0").glob("__torch__.mod", "Block").raw(b")\x81}(")
    p.s("scale").glob("torch._utils", "_rebuild_parameter")
    p.mark().tensor("HalfStorage", "1", 4, 0, [4], [1]).raw(b"\x88").glob("collections", "OrderedDict")
    p.raw(b")Rt").raw(b"R")
    p.raw(b"ub").raw(b"ub")                                     # Block, Sequential
    p.raw(b"ub")                                                # Net
    pkl = p.stop()
    st = {"0": pack("<f", a), "1": pack("<e", h[:4])}
    files["torchscript-like.pt"] = (torch_zip(pkl, st, prefix="net"), "torchscript", [
        row("conv.weight", "float32", [2, 3, 2, 2], pack("<f", a)),
        row("blocks.0.scale", "float16", [4], pack("<e", h[:4])),
    ])

    # 3. legacy with a storage view (pre-1.0 files share root storages this way)
    p = P()
    p.legacy = True
    p.state_dict([
        ("whole", ("FloatStorage", "k1", 24, 0, [24], [1])),
        ("view", ("FloatStorage", "k1", 24, 1, [2, 2], [2, 1], ("v1", 10, 8))),
        ("ints", ("IntStorage", "k2", 3, 0, [3], [1])),
    ])
    obj = p.stop()
    ints = [7, -8, 9]
    files["legacy-view.pth"] = (legacy_bytes(obj, {"k1": (4, pack("<f", a)), "k2": (4, pack("<i", ints))}),
                                "pytorch-legacy", [
        row("whole", "float32", [24], pack("<f", a)),
        row("view", "float32", [2, 2], pack("<f", [a[11], a[12], a[13], a[14]])),
        row("ints", "int32", [3], pack("<i", ints)),
    ])

    # 4. safetensors: escaped names, metadata, an empty tensor, odd alignment
    d1, d2 = pack("<e", h[:3]), pack("<f", a[:2])
    header = {"__metadata__": {"format": "pt", "note": "caf\u00e9"},
              "a\"quote": {"dtype": "F16", "shape": [3], "data_offsets": [0, 6]},
              "empty": {"dtype": "F32", "shape": [0, 4], "data_offsets": [6, 6]},
              "caf\u00e9.\U0001F600": {"dtype": "F32", "shape": [1, 2], "data_offsets": [6, 14]}}
    raw = json.dumps(header, ensure_ascii=True).encode()      # \\u escapes, surrogate pair
    files["escaped.safetensors"] = (safetensors_bytes(None, d1 + d2, raw), "safetensors", [
        row("a\"quote", "float16", [3], d1),
        row("empty", "float32", [0, 4], b""),
        row("caf\u00e9.\U0001F600", "float32", [1, 2], d2),
    ])
    return files


# ------------------------------------------------------------------ bad files

def small_zip(**kw):
    p = P().state_dict([("x", ("FloatStorage", "0", 4, 0, [4], [1]))]).stop()
    return torch_zip(p, {"0": pack("<f", [1, 2, 3, 4])}, **kw)


def one_tensor_zip(numel, offset, shape, stride, stype="FloatStorage", key="0", data=16):
    p = P().state_dict([("x", (stype, key, numel, offset, shape, stride))]).stop()
    return torch_zip(p, {"0": b"\0" * data})


def raw_zip(pkl):
    return torch_zip(pkl, {})


def bad_files():
    bad = []

    def add(name, data, regex):
        bad.append((name, data, regex))

    sysc = P().glob("os", "system").mark().s("echo pwned").raw(b"tR").stop()
    add("forbidden-os-system.pth", raw_zip(sysc), r"forbidden global 'os\.system'")
    evalc = P().glob("builtins", "eval").mark().s("print(1)").raw(b"tR").stop()
    add("forbidden-eval.pth", raw_zip(evalc), r"forbidden global 'builtins\.eval'")
    posix = P().glob("posix", "system").mark().s("id").raw(b"tR").stop()
    add("forbidden-posix-legacy.pth", legacy_bytes(posix, {}, keys=[]), r"forbidden global 'posix\.system'")
    nested = P().glob("collections", "OrderedDict").raw(b")R").mark().s("x") \
        .glob("subprocess", "Popen").raw(b")R").raw(b"u").stop()
    add("forbidden-nested.pth", raw_zip(nested), r"forbidden global 'subprocess\.Popen'")
    newobj = P().glob("numpy", "ndarray").raw(b")\x81").stop()
    add("forbidden-newobj.pth", raw_zip(newobj), r"forbidden global 'numpy\.ndarray'")
    add("storage-too-big.pth", one_tensor_zip(1 << 20, 0, [4], [1]), r"need more than the entry's 16 bytes")
    add("offset-past-end.pth", one_tensor_zip(4, 10, [1], [1]), r"storage offset 10 outside")
    add("extent-past-end.pth", one_tensor_zip(4, 0, [100], [1]), r"reaches element 99 of a 4-element")
    add("stride-past-end.pth", one_tensor_zip(4, 0, [2, 2], [1 << 40, 1]), r"reaches element|extent")
    add("negative-shape.pth", one_tensor_zip(4, 0, [-1], [1]), r"shape negative or too large")
    add("huge-shape.pth", one_tensor_zip(4, 0, [1 << 40, 1 << 40], [0, 0]), r"shape negative or too large")
    add("negative-stride.pth", one_tensor_zip(4, 0, [2], [-1]), r"negative stride")
    add("too-many-dims.pth", one_tensor_zip(4, 0, [1] * 9, [1] * 9), r"9 dimensions")
    add("missing-storage.pth", one_tensor_zip(4, 0, [4], [1], key="7"), r"no zip entry 'archive/data/7'")
    add("huge-storage-numel.pth", one_tensor_zip(1 << 62, 0, [4], [1]), r"storage size .* out of range|need more")
    z = small_zip()
    add("truncated.pth", z[: len(z) * 2 // 3], r"no end-of-central-directory")
    add("compressed.pth", small_zip(compress=("data.pkl",)),
        r"zip entry 'archive/data\.pkl': unsupported compression method 8")
    eocd = z.rfind(b"PK\x05\x06")
    add("cd-past-end.pth", z[:eocd + 16] + struct.pack("<I", 0x7FFFFFF0) + z[eocd + 20:],
        r"central directory .* past the end")
    cd = z.find(b"PK\x01\x02")
    add("local-header-bad.pth", z[:cd + 42] + struct.pack("<I", 5) + z[cd + 46:], r"is not a local header")
    add("count-lies.pth", z[:eocd + 8] + struct.pack("<HH", 60000, 60000) + z[eocd + 12:],
        r"entries cannot fit")
    nostop = P().state_dict([]).b  # no STOP
    add("no-stop.pth", raw_zip(bytes(nostop)), r"pickle ends without STOP")
    add("truncated-pickle.pth", raw_zip(b"\x80\x02X\xff\xff\x00\x00ab"), r"pickle truncated")
    add("memo-unset.pth", raw_zip(b"\x80\x02h\x05."), r"memo index 5 was never stored")
    add("memo-huge.pth", raw_zip(b"\x80\x02Nr\xff\xff\xff\xff."), r"memo index 4294967295 out of range")
    add("underflow.pth", raw_zip(b"\x80\x02."), r"stack underflow")
    add("bad-opcode.pth", raw_zip(b"\x80\x02I1\n."), r"unsupported pickle opcode 0x49")
    add("cycle.pth", raw_zip(b"\x80\x02]q\x00(h\x00e."), r"nested deeper than 100")
    dag = P().raw(b"]q\x00")          # level i+1 = [level i, level i]: 2**40 paths
    for k in range(40):
        dag.raw(b"(h" + bytes([k]) + b"h" + bytes([k]) + b"lq" + bytes([k + 1]))
    add("dag-blowup.pth", raw_zip(dag.stop()), r"object graph too large to name")
    dag = P().state_dict([("x", ("FloatStorage", "0", 4, 0, [4], [1]))]).raw(b"q\x00")
    for k in range(30):
        dag.raw(b"(h" + bytes([k]) + b"h" + bytes([k]) + b"lq" + bytes([k + 1]))
    add("dag-names.pth", torch_zip(dag.stop(), {"0": b"\0" * 16}), r"more than 262144 tensors")
    add("module-pid.pth", raw_zip(P().mark().s("module").s("x").raw(b"tQ").stop()),
        r"persistent id of kind 'module'")
    add("big-int.pth", raw_zip(b"\x80\x02\x8a\x09" + b"\1" * 9 + b"."), r"integer of 9 bytes")
    add("no-data-pkl.pth", zip_bytes([("a/b", b"x")]), r"without <prefix>/data\.pkl")
    leg = legacy_bytes(P().state_dict([("x", ("FloatStorage", "k", 4, 0, [4], [1]))]).stop(),
                       {"k": (4, pack("<f", [1, 2, 3, 4]))})
    add("truncated-legacy.pth", leg[:-5], r"run past the end of the file")
    add("legacy-count-lies.pth", leg[:-24] + struct.pack("<q", 5) + leg[-16:],
        r"5 elements stored, 4 declared|run past the end")
    add("legacy-bigendian.pth", legacy_bytes(P().i(1).stop(), {}, keys=[], little_endian=False),
        r"big-endian")
    d = pack("<f", [1, 2])
    add("st-offsets-past-end.safetensors",
        safetensors_bytes({"x": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, d),
        r"data_offsets \[0, 16\) outside the 8 data bytes")
    add("st-shape-lies.safetensors",
        safetensors_bytes({"x": {"dtype": "F32", "shape": [10], "data_offsets": [0, 8]}}, d),
        r"8 bytes for a shape of 10 float32 elements")
    add("st-overlap.safetensors",
        safetensors_bytes({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                           "y": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, d),
        r"overlaps")
    add("st-gap.safetensors",
        safetensors_bytes({"x": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, d),
        r"gap")
    add("st-header-len-lies.safetensors", struct.pack("<Q", 1 << 40) + b'{"x":1}',
        r"header length 1099511627776 runs past the end")
    add("st-bad-json.safetensors", safetensors_bytes(None, b"", b'{"x": {"dtype": "F32", "sha'),
        r"safetensors header byte")
    add("st-negative-shape.safetensors",
        safetensors_bytes(None, d, b'{"x":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}'),
        r"expected a non-negative integer")
    add("st-huge-shape.safetensors",
        safetensors_bytes({"x": {"dtype": "F32", "shape": [2 ** 62, 2 ** 62], "data_offsets": [0, 8]}}, d),
        r"shape too large")
    add("st-dtype.safetensors",
        safetensors_bytes({"x": {"dtype": "U16", "shape": [4], "data_offsets": [0, 8]}}, d),
        r"dtype U16 is not supported")
    add("st-duplicate.safetensors",
        safetensors_bytes(None, d, b'{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
                                   b'"x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}'),
        r"'x' appears twice")
    add("st-missing-field.safetensors",
        safetensors_bytes({"x": {"dtype": "F32", "data_offsets": [0, 8]}}, d), r"missing shape")
    add("empty.pth", b"", r"empty file")
    add("garbage.bin", b"this is not a checkpoint\n" * 4, r"not a checkpoint this reader knows")
    return bad


def main():
    out = sys.argv[1]
    for sub in ("good", "bad"):
        os.makedirs(os.path.join(out, sub), exist_ok=True)
    manifest = {}
    for name, (data, fmt, rows) in good_files().items():
        with open(os.path.join(out, "good", name), "wb") as f:
            f.write(data)
        manifest[name] = {"format": fmt, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data),
                          "tensors": rows}
    with open(os.path.join(out, "good.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    with open(os.path.join(out, "bad.tsv"), "w") as tsv:
        for name, data, regex in bad_files():
            with open(os.path.join(out, "bad", name), "wb") as f:
                f.write(data)
            tsv.write(f"{name}\t{regex}\n")


if __name__ == "__main__":
    main()
