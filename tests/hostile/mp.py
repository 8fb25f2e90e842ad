"""mp.py - msgpack as the hostile suite needs it: a tree that can hold what
Python's msgpack cannot write (a key twice, a str that is not UTF-8, an int in
a wider format than needed, raw bytes such as a header declaring a huge size),
its packer, and the reference reading of a stream (records, each judged by the
rules of common/record.c: a map with str keys, none twice, a str "type", every
top-level map holding "dtype" a valid tensor with no key twice).
"""
import math
import struct

import msgpack


class Str:
    """A msgpack str holding any bytes."""
    __slots__ = ("b",)

    def __init__(self, b):
        self.b = b if isinstance(b, bytes) else b.encode()


class Map:
    """A msgpack map as a list of [key, value] pairs (a key may repeat)."""
    __slots__ = ("pairs",)

    def __init__(self, pairs):
        self.pairs = [list(p) for p in pairs]

    def get(self, key):
        for k, v in self.pairs:
            if isinstance(k, Str) and k.b == key.encode():
                return v
        return None

    def set(self, key, value):
        for p in self.pairs:
            if isinstance(p[0], Str) and p[0].b == key.encode():
                p[1] = value
                return
        self.pairs.append([Str(key), value])


class F32(float):
    """A float packed as float32."""


class Wide:
    """An int packed in a given format byte (0xcf uint64, 0xd3 int64, ...)."""
    __slots__ = ("v", "fmt")

    def __init__(self, v, fmt):
        self.v, self.fmt = v, fmt


class Raw:
    """Bytes written as they are (a header whose body never comes, garbage)."""
    __slots__ = ("b",)

    def __init__(self, b):
        self.b = b


class Ext:
    __slots__ = ("code", "data")

    def __init__(self, code, data):
        self.code, self.data = code, data


def tree(obj):
    """Python values (dict, str, bytes, list, numbers) as a tree of Map/Str."""
    if isinstance(obj, dict):
        return Map([[tree(k), tree(v)] for k, v in obj.items()])
    if isinstance(obj, str):
        return Str(obj)
    if isinstance(obj, (list, tuple)):
        return [tree(x) for x in obj]
    return obj


def _len_header(n, fix, fixmax, f8, f16, f32):
    if fix is not None and n <= fixmax:
        return bytes([fix | n])
    if f8 is not None and n < 256:
        return bytes([f8, n])
    if n < 65536:
        return bytes([f16]) + struct.pack(">H", n)
    return bytes([f32]) + struct.pack(">I", n)


def pack(obj, out=None):
    top = out is None
    if top:
        out = []
    if isinstance(obj, Raw):
        out.append(obj.b)
    elif obj is None:
        out.append(b"\xc0")
    elif obj is True:
        out.append(b"\xc3")
    elif obj is False:
        out.append(b"\xc2")
    elif isinstance(obj, Wide):
        fmt = {0xcc: ">B", 0xcd: ">H", 0xce: ">I", 0xcf: ">Q", 0xd0: ">b", 0xd1: ">h", 0xd2: ">i", 0xd3: ">q"}[obj.fmt]
        out.append(bytes([obj.fmt]) + struct.pack(fmt, obj.v))
    elif isinstance(obj, int):
        out.append(msgpack.packb(obj))
    elif isinstance(obj, F32):
        out.append(b"\xca" + struct.pack(">f", obj))
    elif isinstance(obj, float):
        out.append(b"\xcb" + struct.pack(">d", obj))
    elif isinstance(obj, str):
        pack(Str(obj), out)
    elif isinstance(obj, Str):
        out.append(_len_header(len(obj.b), 0xa0, 31, 0xd9, 0xda, 0xdb) + obj.b)
    elif isinstance(obj, (bytes, bytearray)):
        out.append(_len_header(len(obj), None, 0, 0xc4, 0xc5, 0xc6) + bytes(obj))
    elif isinstance(obj, Ext):
        out.append(msgpack.packb(msgpack.ExtType(obj.code, obj.data)))
    elif isinstance(obj, (list, tuple)):
        out.append(_len_header(len(obj), 0x90, 15, None, 0xdc, 0xdd))
        for x in obj:
            pack(x, out)
    elif isinstance(obj, Map):
        out.append(_len_header(len(obj.pairs), 0x80, 15, None, 0xde, 0xdf))
        for k, v in obj.pairs:
            pack(k, out)
            pack(v, out)
    elif isinstance(obj, dict):
        pack(tree(obj), out)
    else:
        raise TypeError(type(obj))
    return b"".join(out) if top else None


# ---- reading ----

DTYPES = {"uint8": 1, "float16": 2, "float32": 4, "int32": 4, "int64": 8}


class Pairs(list):
    """A decoded map: the list of (key, value) pairs, repeats kept."""

    def get(self, key, default=None):
        for k, v in self:
            if k == key:
                return v
        return default


def _hook(pairs):
    return Pairs(pairs)


def unpacker(raw_strs=False):
    # strs that are not UTF-8 come back with surrogates (\udcXX), so that a
    # str and a bin stay told apart
    return msgpack.Unpacker(raw=False, unicode_errors="surrogateescape", strict_map_key=False,
                            object_pairs_hook=_hook, max_buffer_size=2 ** 31 - 1, max_bin_len=2 ** 31 - 1,
                            max_str_len=2 ** 31 - 1, max_array_len=2 ** 31 - 1, max_map_len=2 ** 31 - 1,
                            max_ext_len=2 ** 31 - 1)


class Stream:
    """A stream as Python's msgpack reads it: .records, a list of (value,
    start, end) for each complete value, and .broken: None, or why the bytes
    are not a whole stream of maps (truncated, not msgpack, not a map)."""

    def __init__(self, data):
        self.data = data
        self.records = []
        self.broken = None
        self.deep = False
        u = unpacker()
        u.feed(data)
        pos = 0
        while True:
            try:
                v = u.unpack()
            except msgpack.OutOfData:
                if pos != len(data):
                    self.broken = "truncated at byte %d" % pos
                break
            except msgpack.StackError:
                # nesting deeper than Python's msgpack takes: no verdict
                self.deep = True
                self.broken = "nested too deep for Python at byte %d" % pos
                break
            except Exception as e:  # noqa: BLE001 - any refusal of msgpack's
                self.broken = "not msgpack at byte %d (%s)" % (pos, type(e).__name__)
                break
            end = u.tell()
            self.records.append((v, pos, end))
            if not isinstance(v, Pairs):
                self.broken = "a %s at byte %d, not a map" % (type(v).__name__, pos)
                break
            pos = end


def is_str(v):
    return isinstance(v, str)


def utf8_ok(s):
    return not any("\udc80" <= c <= "\udcff" for c in s)


def spelled(s):
    """A str as the programs write it: a byte that is not UTF-8 as the text \\xFF."""
    return "".join("\\x%02X" % (ord(c) - 0xdc00) if "\udc80" <= c <= "\udcff" else c for c in s)


def repeated_key(pairs):
    seen = set()
    for k, _ in pairs:
        if isinstance(k, str):
            if k in seen:
                return k
            seen.add(k)
    return None


def tensor_problem(t):
    """Why the map t is not a valid tensor (common/record.c's obj_to_tensor), or None."""
    dup = repeated_key(t)
    if dup is not None:
        return "key %r twice" % dup
    dt, sh, da = t.get("dtype"), t.get("shape"), t.get("data")
    if not is_str(dt) or dt not in DTYPES:
        return "dtype %r" % (dt,)
    if not isinstance(sh, list) or len(sh) > 8:
        return "shape %r" % (sh,)
    n = 1
    for d in sh:
        if isinstance(d, bool) or not isinstance(d, int) or d < 0 or d > 2 ** 63 - 1:
            return "shape %r" % (sh,)
        n *= d
    if not isinstance(da, bytes):
        return "data not bin"
    if n * DTYPES[dt] != len(da):
        return "shape %r needs %d bytes, data has %d" % (sh, n * DTYPES[dt], len(da))
    return None


def record_problem(r):
    """Why the decoded map r is not a valid record (REC_INVALID), or None."""
    if not isinstance(r, Pairs):
        return "not a map"
    for k, _ in r:
        if not is_str(k):
            return "a key is a %s" % type(k).__name__
    dup = repeated_key(r)
    if dup is not None:
        return "key %r twice" % dup
    if not is_str(r.get("type")):
        return "no str type"
    for k, v in r:
        if isinstance(v, Pairs) and "dtype" in [x for x, _ in v if isinstance(x, str)]:
            p = tensor_problem(v)
            if p:
                return "tensor %r: %s" % (k, p)
    return None


def tensor_values(t):
    """The tensor's values as a list of floats (ints for int dtypes)."""
    import numpy as np
    a = np.frombuffer(t.get("data"), "<" + {"uint8": "u1", "float16": "f2", "float32": "f4",
                                            "int32": "i4", "int64": "i8"}[t.get("dtype")])
    return a


def nonfinite(t):
    """How many non-finite values a valid float tensor holds."""
    import numpy as np
    if t.get("dtype") not in ("float16", "float32"):
        return 0
    a = tensor_values(t)
    return int(a.size - np.isfinite(a).sum())


def finite_number(v):
    return not isinstance(v, float) or math.isfinite(v)
