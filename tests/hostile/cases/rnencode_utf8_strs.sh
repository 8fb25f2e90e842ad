# rnencode, an image record whose id, path or other str is not UTF-8 (bytes
# ff fe 80): rnencode copied them raw into its logits record
# (pk_copy_keys_except in common/record.c packs str values as they are), so
# msgpack raw=False, the README's way to read a stream, fails on rnencode's
# output with exit 0. zscore and topk write such bytes as the text \xFF
# (pk_strn). Right: every str rnencode writes is UTF-8, a byte that is not
# written as \xNN.
source "$ROOT/tests/fixtures.sh"
need_checkpoints
$PY - <<'PY' || fail "making the stream"
import msgpack, numpy as np
a = np.random.RandomState(0).randint(0, 256, (224, 224, 3)).astype(np.uint8)
r = {"type": "image", "id": "@@1", "path": "@@2", "label": 3, "preset": "imagenet", "note": ["@@3"],
     "tensor": {"dtype": "uint8", "shape": [224, 224, 3], "data": a.tobytes()}}
b = msgpack.packb(r)
for k, v in ((b"@@1", b"\xff\xfe\x80"), (b"@@2", b"\xc3(x"), (b"@@3", b"\x80ab")):
    b = b.replace(k, v)
open("img.mp", "wb").write(b)
PY
expect_exit 0 rnencode --threads 1 --weights "$CKPT_DIR/resnet50.pth" <img.mp
$PY -c '
import msgpack, sys
ids = [r.get("id") for r in msgpack.Unpacker(open("out", "rb"), raw=False) if r["type"] == "logits"]
assert ids == ["\\xFF\\xFE\\x80"], ids' || fail "rnencode wrote strs that are not UTF-8"
