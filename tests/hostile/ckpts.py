"""ckpts.py - hostile checkpoints: small PyTorch zip, legacy, TorchScript and
safetensors files (written by PyTorch here, once, into build/hostile-seeds)
with their pickles changed opcode by opcode (integers: shapes, strides,
offsets, sizes; names: globals, storage classes, storage keys), zip
directories and local headers lying (offsets, sizes, methods, CRCs, names,
entry counts), entries dropped, repeated, cut or compressed, safetensors
headers lying (offsets, shapes, dtypes, a name twice, the length prefix),
through ckptinfo, txtembed-load and (a few) rnencode. Besides core.py's rules:
ckptinfo's exit 0 means PyTorch (torch.load with weights_only=True, or
torch.jit.load) or, for safetensors, the format's own rules read the file too,
and the same tensors: names, dtypes, shapes and bytes; rnencode's exit 0 on a
damaged resnet50 checkpoint means the logits of the undamaged one, or PyTorch
reading the damaged one as rnencode did.
"""
import hashlib
import io
import json
import os
import pickletools
import struct
import subprocess
import sys
import zipfile
import zlib

import mp
from core import Run, execute

HERE = os.path.dirname(os.path.abspath(__file__))
SEEDS = ["tiny.pth", "tiny-legacy.pth", "tiny.pt", "tiny.safetensors"]



def make_seeds(folder, ctx):
    cache = os.path.join(ctx.root, "build", "hostile-seeds")
    stamp = os.path.join(cache, "tiny.safetensors")
    if not os.path.exists(stamp) or os.path.getmtime(stamp) < os.path.getmtime(os.path.join(HERE, "make_ckpt_seeds.py")):
        os.makedirs(cache, exist_ok=True)
        subprocess.run([sys.executable, os.path.join(HERE, "make_ckpt_seeds.py"), cache], check=True)
    for s in SEEDS:
        with open(os.path.join(cache, s), "rb") as f, open(os.path.join(folder, s), "wb") as o:
            o.write(f.read())
    ctx.torch = TorchWorker(ctx)
    ctx.baseline = {}


class TorchWorker:
    """torch_worker.py as a long-lived process (torch imports once)."""

    def __init__(self, ctx):
        self.ctx, self.p = ctx, None

    def read(self, path):
        for _ in range(2):
            if self.p is None or self.p.poll() is not None:
                self.p = subprocess.Popen([sys.executable, os.path.join(HERE, "torch_worker.py")],
                                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                          stderr=subprocess.DEVNULL)
            try:
                self.p.stdin.write(json.dumps({"path": path}) + "\n")
                self.p.stdin.flush()
                line = self.p.stdout.readline()
            except (BrokenPipeError, OSError):
                line = ""
            if line:
                return json.loads(line)
            self.p.kill()
            self.p.wait()
            self.p = None
            return {"ok": False, "error": "PyTorch crashed reading it"}
        return {"ok": False, "error": "no answer"}


# ---- zip ----

def zip_entries(b):
    """Central directory entries: dicts with the offsets of their fields."""
    e = b.rfind(b"PK\x05\x06")
    if e < 0 or e + 22 > len(b):
        return [], None
    n, cdsize, cdoff = struct.unpack("<HII", b[e + 10:e + 20])
    out = []
    o = cdoff
    for _ in range(n):
        if b[o:o + 4] != b"PK\x01\x02" or o + 46 > len(b):
            break
        nlen, elen, clen = struct.unpack("<HHH", b[o + 28:o + 34])
        lho = struct.unpack("<I", b[o + 42:o + 46])[0]
        out.append({"cd": o, "name": b[o + 46:o + 46 + nlen], "lho": lho})
        o += 46 + nlen + elen + clen
    return out, e


def mutate_zip_raw(rng, b):
    b = bytearray(b)
    ents, e = zip_entries(bytes(b))
    if not ents:
        cut = rng.randrange(len(b))
        return bytes(b[:cut]), "cut at %d" % cut
    en = rng.choice(ents)
    c = rng.randrange(9)
    if c == 0:
        field, off, fmt = rng.choice([("crc", 16, "<I"), ("csize", 20, "<I"), ("usize", 24, "<I"), ("method", 10, "<H"),
                                      ("nlen", 28, "<H"), ("elen", 30, "<H"), ("lho", 42, "<I"), ("flags", 8, "<H")])
        cur = struct.unpack(fmt, b[en["cd"] + off:en["cd"] + off + struct.calcsize(fmt)])[0]
        v = rng.choice([0, cur + 1, cur - 1, cur + 64, 0xffffffff if fmt == "<I" else 0xffff, cur * 2, 8, 1])
        if field == "flags":
            v = cur ^ rng.choice([1, 8, 0x800])
        v &= 0xffffffff if fmt == "<I" else 0xffff
        struct.pack_into(fmt, b, en["cd"] + off, v)
        return bytes(b), "central %s of %r: %d -> %d" % (field, en["name"], cur, v)
    if c == 1:
        lo = en["lho"]
        if b[lo:lo + 4] == b"PK\x03\x04":
            field, off, fmt = rng.choice([("crc", 14, "<I"), ("csize", 18, "<I"), ("usize", 22, "<I"),
                                          ("method", 8, "<H"), ("nlen", 26, "<H"), ("elen", 28, "<H")])
            cur = struct.unpack(fmt, b[lo + off:lo + off + struct.calcsize(fmt)])[0]
            v = rng.choice([0, cur + 1, cur + 64, 0xffff, 1000]) & (0xffffffff if fmt == "<I" else 0xffff)
            struct.pack_into(fmt, b, lo + off, v)
            return bytes(b), "local %s of %r: %d -> %d" % (field, en["name"], cur, v)
    if c == 2:
        field, off = rng.choice([("entries", 10), ("entries on disk", 8), ("cd size", 12), ("cd offset", 16), ("comment", 20)])
        fmt = "<H" if off in (8, 10, 20) else "<I"
        cur = struct.unpack(fmt, b[e + off:e + off + struct.calcsize(fmt)])[0]
        v = rng.choice([0, cur + 1, cur - 1, 1, 0xffff]) & (0xffffffff if fmt == "<I" else 0xffff)
        struct.pack_into(fmt, b, e + off, v)
        return bytes(b), "EOCD %s: %d -> %d" % (field, cur, v)
    if c == 3:
        nlen = struct.unpack("<H", b[en["cd"] + 28:en["cd"] + 30])[0]
        name = bytearray(b[en["cd"] + 46:en["cd"] + 46 + nlen])
        if name:
            new = rng.choice([b"9", b"x", b"/", b"\x00", b"."])
            i = rng.randrange(len(name))
            name[i:i + 1] = new
            b[en["cd"] + 46:en["cd"] + 46 + nlen] = name
            return bytes(b), "central name %r -> %r" % (en["name"], bytes(name))
    if c == 4:  # tensor data flipped, CRC left: only a CRC check can see it
        data = [x for x in ents if b"/data/" in x["name"] and not x["name"].endswith(b".pkl")]
        if data:
            x = rng.choice(data)
            lo = x["lho"]
            nlen, elen = struct.unpack("<HH", b[lo + 26:lo + 30])
            size = struct.unpack("<I", b[lo + 18:lo + 22])[0]
            start = lo + 30 + nlen + elen
            if size:
                i = start + rng.randrange(size)
                b[i] ^= 0x40
                return bytes(b), "a data byte of %r flipped, CRC left" % x["name"]
    if c == 5:
        return bytes(b) + rng.choice([b"\0" * 10, b"PK\x05\x06" + b"\0" * 18, b"junk"]), "bytes after the zip"
    cut = rng.choice([rng.randrange(len(b)), e, e + 10, ents[-1]["cd"], len(b) - 1])
    return bytes(b[:cut]), "cut at %d of %d" % (cut, len(b))


GLOBAL_NAMES = [b"os", b"system", b"posix", b"builtins", b"eval", b"getattr", b"torch._utils", b"_rebuild_tensor_v2",
                b"_rebuild_parameter", b"FloatStorage", b"HalfStorage", b"LongStorage", b"BoolStorage", b"ByteStorage",
                b"BFloat16Storage", b"DoubleStorage", b"collections", b"OrderedDict", b"torch", b"storage", b"",
                b"_rebuild_tensor", b"_rebuild_sparse_tensor", b"Tensor", b"device", b"cpu", b"cuda:0", b"9", b"0",
                b"../x", b"torch._tensor", b"_rebuild_from_type_v2"]


def mutate_pickle(rng, p):
    """One change to a pickle's opcodes: (new bytes, what)."""
    try:
        ops = list(pickletools.genops(p))
    except Exception:  # noqa: BLE001 - already damaged: flip bytes
        ops = []
    b = bytearray(p)
    ints = [(op, arg, pos) for op, arg, pos in ops if op.name in ("BININT1", "BININT2", "BININT", "LONG1")]
    strs = [(op, arg, pos) for op, arg, pos in ops if op.name in ("SHORT_BINUNICODE", "BINUNICODE", "GLOBAL", "SHORT_BINSTRING")]
    c = rng.randrange(6)
    if c <= 1 and ints:
        op, arg, pos = rng.choice(ints)
        end = next((q for _, _, q in ops if q is not None and q > pos), len(b))
        v = rng.choice([0, 1, -1, 255, 65535, 2 ** 31 - 1, -2 ** 31, 2 ** 40, 2 ** 62, 2 ** 63 + 5, arg + 1 if isinstance(arg, int) else 1,
                        arg * 1000 if isinstance(arg, int) else 7])
        if 0 <= v < 256:
            new = b"K" + bytes([v])
        elif -2 ** 31 <= v < 2 ** 31:
            new = b"J" + struct.pack("<i", v)
        else:
            raw = v.to_bytes((v.bit_length() + 8) // 8, "little", signed=True)
            new = b"\x8a" + bytes([len(raw)]) + raw
        return bytes(b[:pos] + new + b[end:]), "pickle int %r at %d -> %d" % (arg, pos, v)
    if c == 2 and strs:
        op, arg, pos = rng.choice(strs)
        end = next((q for _, _, q in ops if q is not None and q > pos), len(b))
        s = rng.choice(GLOBAL_NAMES)
        if op.name == "GLOBAL":
            mod, _, name = arg.partition(" ")
            new = b"c" + (s if rng.random() < 0.5 else mod.encode()) + b"\n" + (s if rng.random() < 0.5 else name.encode()) + b"\n"
        elif op.name == "BINUNICODE":
            new = b"X" + struct.pack("<I", len(s)) + s
        elif op.name == "SHORT_BINSTRING":
            new = b"U" + bytes([len(s)]) + s
        else:
            new = b"\x8c" + bytes([len(s)]) + s
        return bytes(b[:pos] + new + b[end:]), "pickle %s %r at %d -> %r" % (op.name, arg, pos, s)
    if c == 3 and len(ops) > 3:
        i = rng.randrange(1, len(ops) - 1)
        pos = ops[i][2]
        end = ops[i + 1][2]
        if rng.random() < 0.5:
            return bytes(b[:pos] + b[end:]), "pickle opcode %s at %d dropped" % (ops[i][0].name, pos)
        return bytes(b[:end] + b[pos:end] + b[end:]), "pickle opcode %s at %d repeated" % (ops[i][0].name, pos)
    if c == 4:
        cut = rng.randrange(len(b)) if b else 0
        return bytes(b[:cut]), "pickle cut at %d of %d" % (cut, len(b))
    for _ in range(rng.choice([1, 2, 4])):
        if b:
            b[rng.randrange(len(b))] = rng.randrange(256)
    return bytes(b), "pickle bytes flipped"


def mutate_zip_entries(rng, b):
    """Rebuilt with zipfile (CRCs right) after an entry-level change."""
    zin = zipfile.ZipFile(io.BytesIO(b))
    items = [(i.filename, zin.read(i.filename)) for i in zin.infolist()]
    c = rng.randrange(8)
    what = ""
    pk = [k for k, (n, _) in enumerate(items) if n.endswith("/data.pkl")]
    if c <= 2 and pk:
        k = rng.choice(pk)
        data, what = mutate_pickle(rng, items[k][1])
        items[k] = (items[k][0], data)
        what = "%s: %s" % (items[k][0], what)
    elif c == 3:
        k = rng.randrange(len(items))
        what = "entry %s dropped" % items[k][0]
        del items[k]
    elif c == 4:
        k = rng.randrange(len(items))
        other = [x for x in items if "/data/" in x[0]]
        data = rng.choice(other)[1] if other else b"x"
        items.insert(rng.randrange(len(items) + 1), (items[k][0], data))
        what = "entry %s twice" % items[k][0]
    elif c == 5:
        st = [k for k, (n, _) in enumerate(items) if "/data/" in n]
        if st:
            k = rng.choice(st)
            n, d = items[k]
            cut = rng.choice([0, len(d) // 2, max(0, len(d) - 1), len(d) + 8])
            items[k] = (n, d[:cut] + b"\0" * max(0, cut - len(d)))
            what = "storage %s: %d -> %d bytes" % (n, len(d), cut)
    elif c == 6:
        k = rng.randrange(len(items))
        n, d = items[k]
        new = rng.choice([n.replace("/", "/../", 1), n + "x", "/" + n, n.replace("data", "Data"), "other/" + n.split("/", 1)[-1]])
        items[k] = (new, d)
        what = "entry %s renamed %s" % (n, new)
    else:
        for k, (n, d) in enumerate(items):
            if n.endswith("/byteorder") or n.endswith("/version"):
                items[k] = (n, rng.choice([b"big", b"", b"99\n", b"little\x00", b"3\n"]))
                what = "%s changed" % n
                break
    out = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if rng.random() < 0.1 else zipfile.ZIP_STORED
    with zipfile.ZipFile(out, "w", method) as z:
        for n, d in items:
            with __import__("warnings").catch_warnings():
                __import__("warnings").simplefilter("ignore")
                z.writestr(zipfile.ZipInfo(n), d, compress_type=method)
    return out.getvalue(), what + (" (deflated)" if method == zipfile.ZIP_DEFLATED else "")


# ---- legacy ----

def mutate_legacy(rng, b):
    """Legacy torch.save: magic, protocol and sys_info pickles, the object
    pickle, the storage keys pickle, then each storage as size + bytes."""
    try:
        ends = []
        f = io.BytesIO(b)
        for _ in range(5):
            for op, arg, pos in pickletools.genops(f):
                pass
            ends.append(f.tell())
    except Exception:  # noqa: BLE001
        ends = []
    c = rng.randrange(4)
    if c <= 1 and len(ends) >= 4:
        k = rng.choice([3, 3, 4] if len(ends) > 4 else [3])
        start = ends[k - 1]
        data, what = mutate_pickle(rng, b[start:ends[k]])
        return b[:start] + data + b[ends[k]:], "pickle %d: %s" % (k, what)
    if c == 2 and len(ends) >= 5:
        o = ends[4]
        if o + 8 <= len(b):
            cur = struct.unpack("<q", b[o:o + 8])[0]
            v = rng.choice([0, cur + 1, cur - 1, 2 ** 62, -1, 2 ** 32])
            return b[:o] + struct.pack("<q", v) + b[o + 8:], "first storage size %d -> %d" % (cur, v)
    cut = rng.randrange(len(b))
    return b[:cut], "cut at %d of %d" % (cut, len(b))


# ---- safetensors ----

def st_parse(b):
    n = struct.unpack("<Q", b[:8])[0]
    return n, json.loads(b[8:8 + n].decode("utf-8"), object_pairs_hook=lambda p: p)


def st_build(pairs, data, pad=True):
    def enc(v):
        if isinstance(v, list) and v and all(isinstance(x, tuple) and len(x) == 2 for x in v):
            return "{" + ",".join(json.dumps(k) + ":" + enc(x) for k, x in v) + "}"
        if isinstance(v, list) and not v:
            return "[]"
        if isinstance(v, list):
            return "[" + ",".join(enc(x) for x in v) + "]"
        return json.dumps(v)
    h = enc(pairs).encode()
    if pad:
        h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data


def mutate_safetensors(rng, b):
    try:
        n, pairs = st_parse(b)
    except Exception:  # noqa: BLE001
        cut = rng.randrange(len(b))
        return b[:cut], "cut at %d" % cut
    data = b[8 + n:]
    ents = [k for k, (name, v) in enumerate(pairs) if name != "__metadata__" and isinstance(v, list)]
    c = rng.randrange(10)
    if c <= 2 and ents:
        k = rng.choice(ents)
        name, v = pairs[k]
        v = [list(x) for x in v]
        f = rng.choice(["dtype", "shape", "data_offsets"])
        for x in v:
            if x[0] == f:
                if f == "dtype":
                    x[1] = rng.choice(["F64", "BF16", "I8", "BOOL", "U16", "F8_E4M3", "X", 3, "f32", "U64", "I32"])
                elif f == "shape":
                    x[1] = rng.choice([[], [0], [-1], [2 ** 63], [1.5], ["3"], [[3]], [2 ** 32, 2 ** 32], [3, 4, 1], [4, 3], [12]])
                else:
                    s, e = x[1] if isinstance(x[1], list) and len(x[1]) == 2 else (0, 0)
                    x[1] = rng.choice([[s, e + 1], [e, s], [0, 2 ** 64 - 1], [s, s], [0, e], [s + 1, e + 1], [-1, 4],
                                       [1.5, 2], [str(s), e], [s, e, e], [len(data) - 4, len(data) + (e - s) - 4],
                                       [s, len(data) + 8]])
        pairs[k] = (name, [tuple(x) for x in v])
        return st_build(pairs, data), "tensor %r %s changed" % (name, f)
    if c == 3 and ents:
        k = rng.choice(ents)
        pairs.insert(rng.randrange(len(pairs) + 1), pairs[k] if rng.random() < 0.5 else (pairs[k][0], pairs[rng.choice(ents)][1]))
        return st_build(pairs, data), "tensor %r twice" % pairs[k][0]
    if c == 4 and ents:
        k = rng.choice(ents)
        new = rng.choice(["", "a\nb", "\x1b[2J", "x" * 5000, "__metadata__", "w.", "\u202e", "\u009b31m", "a\tb", "a/../b",
                          pairs[rng.choice(ents)][0]])
        pairs[k] = (new, pairs[k][1])
        return st_build(pairs, data), "tensor %r renamed %.30r" % (pairs[k][0], new)
    if c == 5:
        mk = [k for k, (nm, _) in enumerate(pairs) if nm == "__metadata__"]
        v = rng.choice([[], 3, "x", [("a", 3)], [("a", [("b", "c")])], None])
        if mk:
            pairs[mk[0]] = ("__metadata__", v)
        else:
            pairs.insert(0, ("__metadata__", v))
        return st_build(pairs, data), "__metadata__ = %r" % (v,)
    if c == 6:
        out = bytearray(st_build(pairs, data))
        cur = struct.unpack("<Q", out[:8])[0]
        v = rng.choice([0, cur - 1, cur + 1, cur + 8, 2 ** 63, 2 ** 64 - 1, len(out) - 8, 100000001])
        struct.pack_into("<Q", out, 0, v)
        return bytes(out), "header length %d -> %d" % (cur, v)
    if c == 7:
        out = bytearray(st_build(pairs, data))
        h = rng.choice([b"\0", b"}", b"x", b"\xff", b"\n"])
        i = 8 + n - 1
        out[i:i + 1] = h
        return bytes(out), "header's last byte %r" % h
    if c == 8:
        extra = rng.choice([b"", b"\0" * 8, b"trailing"])
        cut = rng.choice([len(data), max(0, len(data) - 1), len(data) // 2])
        return st_build(pairs, data[:cut] + extra), "data %d -> %d bytes" % (len(data), cut + len(extra))
    raw = bytearray(b)
    for _ in range(rng.choice([1, 3])):
        i = rng.randrange(8, 8 + n) if n else 8
        if i < len(raw):
            raw[i] = rng.choice([0, 0x22, 0x5c, 0xff, 0x7b, 0x30 + rng.randrange(10)])
    return bytes(raw), "header bytes flipped"


ST_DT = {"F32": ("float32", 4), "F16": ("float16", 2), "BF16": ("bfloat16", 2), "F64": ("float64", 8),
         "I64": ("int64", 8), "I32": ("int32", 4), "I16": ("int16", 2), "I8": ("int8", 1), "U8": ("uint8", 1),
         "BOOL": ("bool", 1)}


def st_reference(b):
    """The tensors of a safetensors file as the format defines them: (rows, None)
    or (None, why not). A name twice is refused: readers disagree on which one
    counts (the Rust crate's map keeps the last)."""
    if len(b) < 8:
        return None, "shorter than 8 bytes"
    n = struct.unpack("<Q", b[:8])[0]
    if n > 100_000_000 or 8 + n > len(b):
        return None, "header length %d" % n
    try:
        # names that are not UTF-8 are read (tests/score/test_hostile_text.sh)
        pairs = json.loads(b[8:8 + n].decode("utf-8", "surrogateescape"), object_pairs_hook=lambda p: p)
    except (ValueError, UnicodeError) as ex:
        return None, "header: %s" % ex
    if not isinstance(pairs, list):
        return None, "header is not an object"
    names = [k for k, _ in pairs]
    if len(set(names)) != len(names):
        return None, "a name twice"
    data = b[8 + n:]
    rows = []
    for name, v in pairs:
        if name == "__metadata__":
            continue
        if not isinstance(v, list):
            return None, "%r is not an object" % name
        d = dict(v)
        if set(d) != {"dtype", "shape", "data_offsets"} or len(d) != len(v):
            return None, "%r: keys %r" % (name, [k for k, _ in v])
        if d["dtype"] not in ST_DT:
            return None, "%r: dtype %r" % (name, d["dtype"])
        sh, off = d["shape"], d["data_offsets"]
        if not isinstance(sh, list) or any(type(x) is not int or x < 0 for x in sh):
            return None, "%r: shape %r" % (name, sh)
        if not isinstance(off, list) or len(off) != 2 or any(type(x) is not int or x < 0 for x in off):
            return None, "%r: data_offsets %r" % (name, off)
        cnt = 1
        for x in sh:
            cnt *= x
        dt, size = ST_DT[d["dtype"]]
        if off[1] < off[0] or off[1] > len(data) or off[1] - off[0] != cnt * size:
            return None, "%r: offsets %r for %d bytes of %d" % (name, off, cnt * size, len(data))
        if not mp.utf8_ok(name):  # as the JSON writer spells such a byte: \xFF
            name = "".join("\\x%02X" % (ord(c) - 0xdc00) if "\udc80" <= c <= "\udcff" else c for c in name)
        rows.append([name, dt, sh, hashlib.sha256(data[off[0]:off[1]]).hexdigest()])
    return rows, None


# ---- the case ----

def build(case, rng, ctx):
    big = rng.random() < 0.08 and ctx.rnencode_left > 0 and ctx.weights  # the draw first: reruns agree
    if big:
        return build_rnencode(case, rng, ctx)
    seed = rng.choice(SEEDS)
    data = open(os.path.join(ctx.seeddir, seed), "rb").read()
    for _ in range(rng.choice([1, 1, 1, 2])):
        if len(data) < 16:
            break  # nothing left to change
        if seed.endswith(".safetensors"):
            data, what = mutate_safetensors(rng, data)
        elif seed == "tiny-legacy.pth":
            data, what = mutate_legacy(rng, data)
        else:
            try:
                data, what = (mutate_zip_entries if rng.random() < 0.6 else mutate_zip_raw)(rng, data)
            except (zipfile.BadZipFile, KeyError, ValueError, RuntimeError, EOFError, zlib.error, struct.error, OSError):
                data, what = mutate_zip_raw(rng, data)
        case.what.append(what)
    case.what.insert(0, "seed " + seed)
    name = case.write("in" + os.path.splitext(seed)[1], data)
    case.write("names3.txt", b"a\nb\nc\n")
    case.runs = [Run("ckptinfo", ["-j", "-s", name], out="jsonl", oracle=ckpt_oracle(ctx, name, seed))]
    case.runs.append(rng.choice([Run("ckptinfo", [name], out="text"), Run("ckptinfo", ["-r", "-H", name], out="text"),
                                 Run("txtembed-load", ["--names", "names3.txt", "--tensor", "w", name], produces={"classes"}),
                                 Run("ckptinfo", ["-j", name, name], out="jsonl")]))


# PyTorch's refusals for records ckptinfo reads too (the version record, a
# storage's data/<key>): ckptinfo must refuse those files as well
READ_REFUSALS = ("file with version", "parse the version", 'hasRecord("version")', "failed locating file data/")


def ckpt_oracle(ctx, name, seed):
    """ckptinfo's exit 0: the reference reads the same tensors. Where PyTorch
    refuses the file for a part ckptinfo has no use for (TorchScript code and
    constants, a 7th argument of newer PyTorch's _rebuild_tensor_v2),
    ckptinfo must at least list the undamaged file's tensors; where for the
    version record or a storage's record (READ_REFUSALS), or a str in a
    torch.save pickle that is not UTF-8 (tensors named otherwise), it must
    refuse the file."""
    def oracle(run, case):
        if run.rc != 0:
            return []
        got = json.loads(run.stdout.decode("utf-8"))
        rows = [[t["name"], t["dtype"], t["shape"], t.get("sha256")] for t in got["tensors"]]
        if name.endswith(".safetensors"):
            ref, why = st_reference(case.read(name))
        else:
            ans = ctx.torch.read(case.path(name))
            ref, why = (ans["rows"], None) if ans["ok"] else (None, ans["error"])
        if ref is None and not name.endswith(".safetensors"):
            if any(x in why for x in READ_REFUSALS):
                return ["ckptinfo exit 0 on a file PyTorch refuses for a record ckptinfo reads: %s" % why[:200]]
            if seed not in ctx.baseline:
                ans = ctx.torch.read(os.path.join(ctx.seeddir, seed))
                ctx.baseline[seed] = ans["rows"] if ans["ok"] else None
            if ctx.baseline[seed] is not None and sorted(rows) == sorted(ctx.baseline[seed]):
                return []  # the damage is outside the tensors ckptinfo reads
            if any(x in why for x in ("version", "constants.pkl", "code/", ".debug_pkl", "__torch__")):
                return []  # PyTorch stops at a record ckptinfo has no use for: no reference
            if "not in the map" in why and ctx.baseline[seed] is not None and \
                    sorted(r[1:] for r in rows) == sorted(r[1:] for r in ctx.baseline[seed]):
                return []  # a TorchScript attribute renamed in data.pkl: the class in code/ disagrees
            return ["ckptinfo exit 0 on a file PyTorch refuses (%s), and its tensors are not the undamaged "
                    "file's" % why[:200]]
        if ref is None:
            return ["ckptinfo exit 0 on a file the reference refuses: %s" % why[:300]]
        if sorted(rows) != sorted(ref):
            diff = [r for r in rows if r not in ref][:2] + ["ref:"] + [r for r in ref if r not in rows][:2]
            return ["ckptinfo exit 0, but its tensors differ from the reference's: %s" % str(diff)[:400]]
        return []
    return oracle


def build_rnencode(case, rng, ctx):
    ctx.rnencode_left -= 1
    src = ctx.weights
    data = open(src, "rb").read()
    what = []
    for _ in range(rng.choice([1, 1, 2])):
        if rng.random() < 0.6:
            try:
                data, w = mutate_zip_entries_pkl_only(rng, data)
            except Exception:  # noqa: BLE001
                data, w = mutate_zip_raw(rng, data)
        else:
            data, w = mutate_zip_raw(rng, data)
        what.append(w)
    case.what = ["seed " + os.path.basename(src)] + what
    w = case.write("weights.pth", data)
    img = case.write("one.mp", baseline_image(ctx))
    case.runs = [Run("rnencode", ["--threads", "1", "--weights", w], stdin=img, streams=["-"], consumes={"image"},
                     produces={"logits"}, timeout=120, oracle=rnencode_oracle(ctx))]


def mutate_zip_entries_pkl_only(rng, b):
    """data.pkl of a big zip changed in place of its entry, other entries kept
    byte for byte (the zip is rebuilt around them)."""
    zin = zipfile.ZipFile(io.BytesIO(b))
    out = io.BytesIO()
    what = ""
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
        for i in zin.infolist():
            d = zin.read(i.filename)
            if i.filename.endswith("/data.pkl"):
                d, what = mutate_pickle(rng, d)
            z.writestr(zipfile.ZipInfo(i.filename), d)
    return out.getvalue(), "data.pkl: " + what


def baseline_image(ctx):
    """One uint8 imagenet crop (the stream seeds' first image)."""
    if "image" not in ctx.baseline:
        import numpy as np
        a = np.random.RandomState(3).randint(0, 256, (224, 224, 3)).astype(np.uint8)
        recs = [{"type": "image", "id": "x.jpg", "path": "x.jpg", "label": 1, "preset": "imagenet",
                 "tensor": {"dtype": "uint8", "shape": [224, 224, 3], "data": a.tobytes()}}]
        ctx.baseline["image"] = b"".join(mp.pack(mp.tree(r)) for r in recs)
    return ctx.baseline["image"]


def logits_of(data):
    for r, _, _ in mp.Stream(data).records:
        if isinstance(r, mp.Pairs) and r.get("type") == "logits":
            return bytes(r.get("tensor").get("data"))
    return None


def rnencode_oracle(ctx):
    def oracle(run, case):
        if run.rc != 0:
            return []
        if "logits" not in ctx.baseline:
            r = Run("rnencode", ["--threads", "1", "--weights", ctx.weights], stdin="one.mp", timeout=120)
            execute(r, case, ctx.bindir, ctx.env, 120)
            ctx.baseline["logits"] = logits_of(r.stdout)
        if logits_of(run.stdout) == ctx.baseline["logits"]:
            return []
        ans = ctx.torch.read(case.path("weights.pth"))
        if not ans["ok"]:
            return ["rnencode exit 0 with other logits than the undamaged checkpoint's, on a file PyTorch refuses: %s" % ans["error"][:200]]
        orig = ctx.torch.read(ctx.weights)
        if ans["rows"] == orig["rows"]:
            return ["rnencode exit 0 with other logits, but PyTorch reads the same tensors as in the undamaged file"]
        return []
    return oracle
