#!/usr/bin/env bash
# study-report on small made-up streams (no encoder runs: seconds, not minutes): two
# models at two precisions over 16 sample images with ImageNet's long ids. The report has
# its three pictures (reliability diagram, per-class recall scatter, FP32-FP16 histogram)
# as well-formed SVG, each embedded with a reading guide and drawing the figures python
# computes from the same streams; the timing table gives mean +- sd over the timed
# batches and marks the runs whose spreads overlap; errtree's section names the classes
# as the rest of the report does; the grid's captions keep the end of a long id and
# show each model's probability.
source "$ROOT/tests/lib.sh"
need_py msgpack
need_py numpy
P=$ROOT/pipelines
names=$ROOT/data/names-clip.txt

# streams DIR IDFORMAT SCALE [MODELS PRECISIONS]: scores-MODEL-PREC.mp and enc-MODEL-PREC.mp
# (rnencode's header, the logits of a torchvision model, a stats record with the timing
# below) in DIR, for MODELS (default resnet50,clip-rn50) at PRECISIONS (default fp32,fp16).
# Logits are random with the label (or, on every third image, another class) raised:
# top-1 probabilities from about 0.01 to 0.99; FP16 adds noise of 2e-3, BF16 of 2e-2.
# SCALE multiplies the logits (the same top-1 classes at other probabilities).
streams() {
	mkdir -p "$1" && (cd "$1" && $PY - "$TESTDATA" "$2" "$3" "${4:-resnet50,clip-rn50}" "${5:-fp32,fp16}") <<'EOF' || fail "cannot write the test streams"
import os, sys, msgpack, numpy as np
testdata, idfmt, scale = sys.argv[1], sys.argv[2], float(sys.argv[3])
models, precs = sys.argv[4].split(","), sys.argv[5].split(",")
noise = {"fp16": 2e-3, "bf16": 2e-2}
rows = [l.rstrip("\n").split("\t") for l in open(os.path.join(testdata, "labels.tsv"))][1:17]
# per-image seconds, mean and sd: ResNet-50's FP16 apart from its FP32, CLIP's within
timing = {("resnet50", "fp32"): (0.050, 0.002), ("resnet50", "fp16"): (0.060, 0.002),
          ("clip-rn50", "fp32"): (0.040, 0.010), ("clip-rn50", "fp16"): (0.045, 0.010)}
mem = {"fp32": 1 << 27, "fp16": 1 << 26, "bf16": 3 << 25}
def tensor(a):
    return {"dtype": str(a.dtype), "shape": list(a.shape), "data": a.tobytes()}
for mi, model in enumerate(models):
    rng = np.random.RandomState(7 + mi)
    logits = rng.normal(0, 1, (len(rows), 1000)).astype(np.float32)
    for i, (f, wnid, label) in enumerate(rows):
        c = int(label) if (i + mi) % 3 else (int(label) + 1 + i) % 1000
        logits[i, c] += 2 + 0.5 * i
    logits *= scale
    for prec in precs:
        lg = logits if prec == "fp32" else (logits + rng.normal(0, noise[prec], logits.shape)).astype(np.float32)
        p = np.exp(lg - lg.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        hdr = {"type": "header", "producer": "rnencode", "version": "test", "argv": ["rnencode", "--model", model],
               "model": model, "weights": "/w/" + model, "weights_sha256": "ab" * 32, "precision": prec}
        with open("scores-%s-%s.mp" % (model, prec), "wb") as out, open("enc-%s-%s.mp" % (model, prec), "wb") as enc:
            out.write(msgpack.packb(hdr))
            enc.write(msgpack.packb(hdr))
            for i, (f, wnid, label) in enumerate(rows):
                rec = {"id": idfmt % (i + 1), "path": os.path.join(testdata, "images", f), "label": int(label),
                       "model": model, "precision": prec}
                out.write(msgpack.packb(dict(rec, type="scores", tensor=tensor(p[i].astype(np.float32)))))
                if not model.startswith("clip-"):
                    enc.write(msgpack.packb(dict(rec, type="logits", tensor=tensor(lg[i]))))
            mean, sd = timing.get((model, prec), (0.030 + 0.001 * mi, 0.001))
            enc.write(msgpack.packb({"type": "stats", "producer": "rnencode", "model": model, "precision": prec,
                                     "device": "cpu: test", "threads": 2, "batch": 1, "images": len(rows),
                                     "failed": 0, "batches": len(rows), "seconds": 2.0, "timed_batches": len(rows) - 1,
                                     "image_mean_s": mean, "image_std_s": sd, "peak_memory_bytes": mem[prec],
                                     "weight_bytes": 1 << 26, "activation_bytes": 1 << 26, "peak_rss_bytes": 1 << 28}))
EOF
}
streams s 'ILSVRC2012_val_%08d.JPEG' 1
runs=()
for m in resnet50 clip-rn50; do
	for p in fp32 fp16; do runs+=(--run $m $p s/scores-$m-$p.mp s/enc-$m-$p.mp none.mem); done
done
RNENC_DATA=$ROOT/data expect_exit 0 "$P/study-report" --bin "$BIN" --names "$names" "${runs[@]}" rep
md=rep/report.md

# ---- the pictures: embedded, each with its reading guide, well-formed ----
for svg in calibration.svg class-recall.svg fpdiff-hist.svg memory.svg; do
	grep -qE "^!\[[^]]+\]\($svg\)$" $md || fail "report.md does not embed $svg"
	grep -qE "^\[$svg\]\($svg\): [a-z]" $md || fail "report.md has no reading guide for $svg"
done
$PY - rep/*.svg <<'EOF' || fail "an SVG is not well-formed XML"
import sys, xml.etree.ElementTree as ET
for f in sys.argv[1:]:
    assert ET.parse(f).getroot().tag == "{http://www.w3.org/2000/svg}svg", f
EOF

# ---- what they draw, against python's reading of the same streams ----
$PY - "$names" <<'EOF' || fail "the pictures do not show the streams' figures"
import re, sys, msgpack, numpy as np, xml.etree.ElementTree as ET
def scores(m, p):
    out = {}
    for r in msgpack.Unpacker(open("s/scores-%s-%s.mp" % (m, p), "rb"), raw=False):
        if r["type"] == "scores":
            out[r["id"]] = (r["label"], np.frombuffer(r["tensor"]["data"], np.float32))
    return out
def texts(f):
    return [t.text or "" for t in ET.parse(f).getroot().iter("{http://www.w3.org/2000/svg}text")]
pretty = {"resnet50": "ResNet-50", "clip-rn50": "CLIP RN50"}
# reliability: accuracy, mean confidence and ECE over 10 bins, per model
cal = " ".join(texts("rep/calibration.svg"))
recall = {}
for m in pretty:
    s = scores(m, "fp32")
    conf = np.array([float(v.max()) for l, v in s.values()])
    right = np.array([int(v.argmax()) == l for l, v in s.values()])
    b = np.minimum((conf * 10).astype(int), 9)
    ece = sum(abs(right[b == k].mean() - conf[b == k].mean()) * (b == k).sum() / len(b) for k in range(10) if (b == k).any())
    want = "%s: %d images, accuracy %.4f, mean confidence %.4f, ECE %.4f" % (pretty[m], len(b), right.mean(), conf.mean(), ece)
    assert want in cal, (want, cal)
    per = {}
    for l, v in s.values():
        per.setdefault(l, []).append(int(v.argmax()) == l)
    recall[m] = {c: sum(x) / len(x) for c, x in per.items()}
# the scatter: one circle per distinct (recall A, recall B), the counts either side
pts = {(recall["resnet50"][c], recall["clip-rn50"][c]) for c in recall["resnet50"]}
circles = list(ET.parse("rep/class-recall.svg").getroot().iter("{http://www.w3.org/2000/svg}circle"))
assert len(circles) == len(pts), (len(circles), pts)
a = sum(recall["resnet50"][c] > recall["clip-rn50"][c] for c in recall["resnet50"])
b = sum(recall["resnet50"][c] < recall["clip-rn50"][c] for c in recall["resnet50"])
want = "%d classes: ResNet-50 higher on %d, CLIP RN50 higher on %d, equal on %d" % (len(recall["resnet50"]), a, b, len(recall["resnet50"]) - a - b)
assert want in texts("rep/class-recall.svg"), want
# the histogram: FP16's probability of FP32's top-1 class, per model
hist = texts("rep/fpdiff-hist.svg")
for m in pretty:
    s32, s16 = scores(m, "fp32"), scores(m, "fp16")
    d = np.array([abs(float(v[v.argmax()]) - float(s16[i][1][v.argmax()])) for i, (l, v) in s32.items()])
    want = "%s, FP16: %d images, %d equal, mean |diff| %.3g, max %.3g" % (pretty[m], len(d), (d == 0).sum(), d.mean(), d.max())
    got = [t for t in hist if t.startswith(pretty[m] + ", FP16:")]
    # the streams hold float32 printed to 9 digits: the last digit may differ
    assert len(got) == 1 and got[0].split(", mean")[0] == want.split(", mean")[0], (want, got)
    g = [float(x) for x in re.findall(r"\|diff\| ([0-9.e+-]+), max ([0-9.e+-]+)", got[0])[0]]
    assert abs(g[0] - d.mean()) <= 0.01 * d.mean() and abs(g[1] - d.max()) <= 0.01 * d.max(), (g, want)
EOF

# ---- timing: mean +- sd over the timed batches; FP16 against FP32, ~ where the spreads overlap ----
for row in '| resnet50 | fp32 | cpu: test | 1 | 16 | 0.0500 +- 0.0020 | 15 | reference |' \
	'| resnet50 | fp16 | cpu: test | 1 | 16 | 0.0600 +- 0.0020 | 15 | x1.20 (slower) |' \
	'| clip-rn50 | fp32 | cpu: test | 1 | 16 | 0.0400 +- 0.0100 ~ | 15 | reference |' \
	'| clip-rn50 | fp16 | cpu: test | 1 | 16 | 0.0450 +- 0.0100 ~ | 15 | x1.12 ~ (within the spread) |'; do
	grep -qF -- "$row" $md || fail "timing row '$row' not in report.md: $(grep '^| [rc][el]' $md | tail -n 4)"
done

# ---- one naming: errtree's confusions use the report's names (CLIP's), not WordNet's ----
awk '/^most frequent confusions of/ { on = 1; next } on && /^$/ { on = 0 } on' $md |
	sed -E 's/^ +[0-9]+  //; s/ \(both: .*//' >conf.txt
[ -s conf.txt ] || fail "no errtree confusions in report.md"
$PY - "$names" "$ROOT/data/names-imagenet.txt" <<'EOF' || fail "errtree's section names classes otherwise: $(cat conf.txt)"
import sys
clip = set(open(sys.argv[1]).read().splitlines())
wn = set(open(sys.argv[2]).read().splitlines())
got = [n for line in open("conf.txt") for n in line.rstrip("\n").split(" -> ")]
assert all(n in clip for n in got), [n for n in got if n not in clip]
assert any(n not in wn for n in got), got  # a name the two files give differently is there
EOF

# ---- three models at three precisions: the precision table per model (as data, rendered
# into report.md and precision.json), every precision against FP32 in fpdiff, the pair of
# models compared named (the first two, or --compare's) ----
streams s3 'ILSVRC2012_val_%08d.JPEG' 1 resnet18,resnet50,clip-rn50 fp32,bf16,fp16
runs=()
for m in resnet18 resnet50 clip-rn50; do
	for p in fp32 bf16 fp16; do runs+=(--run $m $p s3/scores-$m-$p.mp s3/enc-$m-$p.mp none.mem); done
done
RNENC_DATA=$ROOT/data expect_exit 0 "$P/study-report" --bin "$BIN" --names "$names" "${runs[@]}" rep3
md=rep3/report.md
grep -qx '# Study: ResNet-18, ResNet-50 and CLIP RN50, FP32, BF16 and FP16' $md || fail "title: $(head -n 1 $md)"
grep -qx '## FP32 against BF16 and FP16' $md || fail "no precision section: $(grep '^## ' $md)"
grep -qx "The pair compared here and in the WordNet section: ResNet-18 and ResNet-50," $md &&
	grep -q '^A = ResNet-18, B = ResNet-50, on the images both scored' $md || { grep -n -A4 "^## Where" $md; fail "the pair compared is not named"; }
$PY - <<'EOF' || fail "the precision table is not the streams' figures"
import json, re, msgpack, numpy as np
def scores(m, p):
    out = {}
    for r in msgpack.Unpacker(open("s3/scores-%s-%s.mp" % (m, p), "rb"), raw=False):
        if r["type"] == "scores":
            out[r["id"]] = (r["label"], np.frombuffer(r["tensor"]["data"], np.float32))
    return out
md = open("rep3/report.md").read().split("## FP32 against BF16 and FP16\n")[1].split("\n## ")[0]
data = json.load(open("rep3/data/precision.json"))
assert data["reference"] == "fp32", data
rows = {(r["model"], r["precision"]): r for r in data["runs"]}
assert len(rows) == 9, rows.keys()
for m, pretty in [("resnet18", "ResNet-18"), ("resnet50", "ResNet-50"), ("clip-rn50", "CLIP RN50")]:
    table = md.split("### %s\n" % pretty)[1].split("\n\n")[0].strip().splitlines()
    assert len(table) == 5, table
    ref = scores(m, "fp32")
    for p, line in zip(["fp32", "bf16", "fp16"], table[2:]):
        s = scores(m, p)
        top1 = np.mean([int(v.argmax()) == l for l, v in s.values()])
        top5 = np.mean([l in np.argsort(-v)[:5] for l, v in s.values()])
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[:3] == [p, "%.4f" % top1, "%.4f" % top5], (m, cells)
        r = rows[m, p]
        assert abs(r["top1"] - top1) < 1e-9 and r["precision"] == p, r
        if p == "fp32":
            assert cells[3:6] == ["reference", "-", "-"] and r["top1_agreement"] is None, cells
            continue
        agree = np.mean([ref[i][1].argmax() == v.argmax() for i, (l, v) in s.items()])
        d = np.array([np.abs(ref[i][1] - v).max() for i, (l, v) in s.items()])
        mean = np.mean([np.abs(ref[i][1] - v).mean() for i, (l, v) in s.items()])
        assert cells[3] == "%.4f" % agree and abs(r["top1_agreement"] - agree) < 1e-9, (m, p, cells, agree)
        # fpdiff's softmax of the logits against the scores' float32 here: within 2e-6
        assert abs(float(cells[4]) - d.max()) < 2e-6 and abs(r["max_abs_diff"] - d.max()) < 2e-6, (m, p, cells, d.max())
        assert abs(r["mean_abs_diff"] - mean) <= 0.01 * mean, (m, p, r, mean)
        # BF16's noise is ten times FP16's: its differences are the larger
        assert p != "bf16" or r["max_abs_diff"] > rows[m, "fp16"]["max_abs_diff"], (m, rows)
        assert cells[7] == {"bf16": "96.0 MiB", "fp16": "64.0 MiB"}[p], cells
        assert r["peak_memory_bytes"] == {"bf16": 3 << 25, "fp16": 1 << 26}[p], r
    # fpdiff's detail row per pair, named by the precision set against FP32
    for p in ["bf16", "fp16"]:
        assert re.search(r"^\| %s \| %s \| 16 \| " % (m, p), md, re.M), (m, p)
        assert "### %s, FP32 against %s: top-5 probabilities, first images" % (pretty, p.upper()) in md, (m, p)
EOF
# the histogram: a panel per model and precision
[ "$(grep -oE '>[^<]*, (BF|FP)16: 16 images, ' rep3/fpdiff-hist.svg | wc -l)" = 6 ] || fail "fpdiff-hist.svg: not 6 panels"
# --compare: another pair; a model without runs is refused
RNENC_DATA=$ROOT/data expect_exit 0 "$P/study-report" --bin "$BIN" --names "$names" --compare clip-rn50 resnet18 \
	"${runs[@]}" rep4
grep -q '^A = CLIP RN50, B = ResNet-18, on the images both scored' rep4/report.md ||
	fail "--compare: $(grep '^A = ' rep4/report.md)"
expect_exit 2 "$P/study-report" --bin "$BIN" --names "$names" --compare resnet101 resnet18 "${runs[@]}" rep5
expect_stderr "^study-report: --compare: no --run of model 'resnet101' \(resnet18 resnet50 clip-rn50\)$"
[ ! -e rep5/report.md ] || fail "--compare refused, yet a report was written"

# ---- the grid's captions: a long id keeps its end, each model's probability is drawn ----
# The grid of streams whose ids are the cut ones is the same picture; streams with other
# probabilities (the same top-1 classes) give another one.
streams cut 'ILSVRC2~_%08d.JPEG' 1
streams scaled 'ILSVRC2~_%08d.JPEG' 1.5
for d in s cut scaled; do
	(cd $d && "$BIN/errstats" --names "$names" --compare scores-clip-rn50-fp32.mp --grid grid.jpg scores-resnet50-fp32.mp \
		>/dev/null 2>&1) || fail "errstats --grid in $d"
done
cmp -s s/grid.jpg cut/grid.jpg || fail "a long id is not drawn as its cut 'ILSVRC2~_00000006.JPEG'"
cmp -s cut/grid.jpg scaled/grid.jpg && fail "the grid does not show the probabilities"
exit 0
