#!/usr/bin/env bash
# txtencode's text tower against PyTorch: the eager CLIP module of
# tests/py/clip_model.py (CLIP's parameter names, random weights) reads the
# same TorchScript fixture (clip-rn50.pt, fp16/fp32 mix as RN50.pt) and
# encodes the same token ids, padded to 77 as clip.tokenize does. Checked
# within 1e-4 (relative to the largest element): every prompt's normalized
# embedding (--per-template) and the zero-shot classifier (normalize,
# average, normalize), for ImageNet names x templates and for tricky JSON
# prompts (special tokens inside the text: the first end token is the one
# read, as CLIP's argmax). Also: batch size does not change the result, the
# record is what the classes readers expect; --precision bf16 is within
# bf16's tolerance of FP32 and not within FP32's, with the zero-shot
# agreement reported.
source "$ROOT/tests/lib.sh"
source "$ROOT/tests/fixtures.sh"
need_py torch
need_py msgpack
need_checkpoints
CK=$CKPT_DIR/clip-rn50.pt
REF="$PY $ROOT/tests/py/txtencode_ref.py"

# 6 classes (two with apostrophes) x 8 templates
{ head -n 4 "$ROOT/data/names-clip.txt"; grep "'" "$ROOT/data/names-clip.txt" | head -n 2; } >names.txt
head -n 8 "$ROOT/data/templates-clip.txt" >templates.txt
txtencode --tokenize -n names.txt --templates templates.txt >ids.txt || fail "tokenize"
expect_exit 0 txtencode -w "$CK" -n names.txt --templates templates.txt --per-template
mv out per.mp
expect_exit 0 txtencode -w "$CK" -n names.txt --templates templates.txt
mv out table.mp

# small batches (many prefix trees, 1 thread) give the same table; --fp16
# rounds through float16 what the fixture already stores so: no change at all
expect_exit 0 txtencode -w "$CK" -n names.txt --templates templates.txt --batch-rows 77 -j 1 --fp16
mv out small.mp
$PY - table.mp small.mp per.mp <<'PYEOF' || fail "batching or record layout"
import sys, msgpack, numpy as np
def recs(p):
    return list(msgpack.Unpacker(open(p, "rb"), raw=False))
def cls(p):
    r = [x for x in recs(p) if x["type"] == "classes"]
    assert len(r) == 1
    return r[0]
a, b, c = cls(sys.argv[1]), cls(sys.argv[2]), cls(sys.argv[3])
ta = np.frombuffer(a["tensor"]["data"], np.float32).reshape(a["tensor"]["shape"])
tb = np.frombuffer(b["tensor"]["data"], np.float32).reshape(b["tensor"]["shape"])
assert ta.shape == (6, 1024) and c["tensor"]["shape"] == [6, 8, 1024], (ta.shape, c["tensor"]["shape"])
d = np.abs(ta - tb).max()
print("batch-rows 77 --fp16 vs default: max |diff|", d)
assert d < 1e-6, d
assert np.allclose(np.linalg.norm(ta, axis=1), 1, atol=1e-6)
assert abs(a["logit_scale"] - 100) < 1e-4, a["logit_scale"]
assert a["names"][4].count("'") and a["model"] == "clip-rn50" and a["templates"] == 8 and a["prompts"] == 48
h = recs(sys.argv[1])[0]
assert h["type"] == "header" and h["producer"] == "txtencode", h
for k in ("names_sha256", "templates_sha256", "weights_sha256", "vocab_sha256"):
    assert len(h[k]) == 64, k
assert h["prompt_set"] == "names.txt x templates.txt", h["prompt_set"]
st = recs(sys.argv[1])[-1]
assert st["type"] == "stats" and st["prompts"] == 48 and 0 < st["rows"] < st["padded_positions"], st
PYEOF

# tricky JSON prompts: 2 classes x 12 strings (entities, apostrophes, special tokens, non-ASCII)
$PY - "$ROOT/testdata/txtencode/tricky.json" <<'PYEOF' >tricky2.json
import json, sys
s = [t for t in json.load(open(sys.argv[1], encoding="utf-8"))["tricky"] if len(t) < 60]
pick = [t for t in s if "endoftext" in t or "startoftext" in t][:4]
pick += [t for t in s if t not in pick][:24 - len(pick)]
json.dump({"first": pick[:12], "second": pick[12:24]}, sys.stdout, ensure_ascii=False)
PYEOF
txtencode --tokenize --prompts tricky2.json >tids.txt || fail "tokenize tricky"
expect_exit 0 txtencode -w "$CK" --prompts tricky2.json --per-template
mv out tper.mp
# --precision bf16: oneDNN's bf16 kernels where the CPU has avx512_bf16 (or
# AMX), else the same rounding emulated in FP32 products with one note.
# ONEDNN_MAX_CPU_ISA=AVX512_CORE hides the bf16 instructions, as a CPU
# without them. Its accuracy against FP32 is checked below (txtencode_ref.py's
# BF16_RTOL: the figures measured and why the bounds).
bf16_note='^txtencode: cpu backend: --precision bf16: this CPU has no bf16 instructions \(oneDNN.s ISA: [a-z0-9_]+\): emulated'
expect_exit 0 env ONEDNN_MAX_CPU_ISA=AVX512_CORE txtencode -d cpu -w "$CK" -n names.txt --templates templates.txt \
	--per-template --precision bf16
expect_stderr "$bf16_note"
[ "$(grep -c 'bf16' err)" = 2 ] || { cat err; fail "bf16 without bf16 instructions: not one note (and the summary)"; }
recview -t header out | grep -q '"precision":"bf16","device":"cpu: [^"]*bf16 emulated' ||
	fail "bf16 header: $(recview -t header out)"
mv out bf16.mp
if grep -qwE 'avx512_bf16|amx_bf16' /proc/cpuinfo; then
	expect_exit 0 txtencode -d cpu -w "$CK" -n names.txt --templates templates.txt --per-template --precision bf16
	if grep -q 'bf16 instructions' err; then cat err; fail "bf16: a note on a CPU with bf16 instructions"; fi
	recview -t header out | grep -q '"precision":"bf16","device":"cpu: [^"]*, bf16 [a-z]' ||
		fail "bf16 header: $(recview -t header out)"
	mv out bf16.mp # the check below is then of oneDNN's bf16 kernels
fi

# one Python process (the model loads once) checks them all against PyTorch
$REF compare "$CK" ids.txt:per.mp:per-template ids.txt:table.mp tids.txt:tper.mp:per-template \
	ids.txt:bf16.mp:per-template:bf16 || fail "txtencode differs from PyTorch"

# the table is what the other tools read: txtembed-load averages the [K,T,E] form to the same [K,E]
if [ -x "$BIN/txtembed-load" ]; then
	txtembed-load per.mp >reload.mp 2>err || { cat err; fail "txtembed-load cannot read txtencode's output"; }
	$PY - table.mp reload.mp <<'PYEOF' || fail "txtembed-load's table differs"
import sys, msgpack, numpy as np
def t(p):
    r = [x for x in msgpack.Unpacker(open(p, "rb"), raw=False) if x["type"] == "classes"][-1]
    return np.frombuffer(r["tensor"]["data"], np.float32).reshape(r["tensor"]["shape"])
d = np.abs(t(sys.argv[1]) - t(sys.argv[2])).max()
print("txtembed-load of --per-template vs txtencode's own average: max |diff|", d)
assert d < 1e-6, d
PYEOF
else
	echo "note: $BIN/txtembed-load not built; reader check left out"
fi
echo "ok: text tower and zero-shot table match PyTorch"
