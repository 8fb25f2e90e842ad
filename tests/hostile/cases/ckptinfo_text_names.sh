# ckptinfo's text listing, tensor names holding a tab, a C1 control (U+009B,
# CSI) or bytes that are not UTF-8: put_text_name (cmd/ckptinfo.c) turns
# bytes below 0x20 into '?' but prints C1 controls and invalid bytes raw (a
# terminal escape from a checkpoint file), and 'a\tb', 'a\nb' and 'a?b' all
# print as 'a?b'. Right: names printed through the diagnostics' escaper, as
# every report prints record text: no C1 control, UTF-8 text, one line per
# tensor with its four tab-separated fields, and distinct names printed
# distinctly.
$PY - <<'PY' || fail "making the file"
import json, struct
names = ["a\tb", "a\nb", "a?b", "c\u009b31m", "@@1"]
h = {n: {"dtype": "F32", "shape": [1], "data_offsets": [4 * i, 4 * i + 4]} for i, n in enumerate(names)}
h = json.dumps(h).encode().replace(b"@@1", b"\xff\xfe\x80")
open("n.safetensors", "wb").write(struct.pack("<Q", len(h)) + h + b"\0" * 20)
PY
expect_exit 0 ckptinfo --no-file-sha256 n.safetensors
$PY - <<'PY' || fail "ckptinfo listing: $(cat -A out)"
import re
b = open("out", "rb").read()
assert not re.search(rb"[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]", b), "a raw control character"
t = b.decode("utf-8")
rows = [l for l in t.split("\n") if l and not l.startswith("#")]
assert len(rows) == 5 and all(len(l.split("\t")) == 4 for l in rows), rows
assert len({l.split("\t")[0] for l in rows}) == 5, "two names print the same"
PY
