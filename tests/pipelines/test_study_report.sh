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

# streams DIR IDFORMAT SCALE: scores-MODEL-PREC.mp and enc-MODEL-PREC.mp (rnencode's header,
# ResNet-50's logits, a stats record with the timing below) in DIR. Logits are random with
# the label (or, on every third image, another class) raised: top-1 probabilities from
# about 0.01 to 0.99; FP16 adds noise of 2e-3. SCALE multiplies the logits (the same
# top-1 classes at other probabilities).
streams() {
	mkdir -p "$1" && (cd "$1" && $PY - "$TESTDATA" "$2" "$3") <<'EOF' || fail "cannot write the test streams"
import os, sys, msgpack, numpy as np
testdata, idfmt, scale = sys.argv[1], sys.argv[2], float(sys.argv[3])
rows = [l.rstrip("\n").split("\t") for l in open(os.path.join(testdata, "labels.tsv"))][1:17]
# per-image seconds, mean and sd: ResNet-50's FP16 apart from its FP32, CLIP's within
timing = {("resnet50", "fp32"): (0.050, 0.002), ("resnet50", "fp16"): (0.060, 0.002),
          ("clip-rn50", "fp32"): (0.040, 0.010), ("clip-rn50", "fp16"): (0.045, 0.010)}
def tensor(a):
    return {"dtype": str(a.dtype), "shape": list(a.shape), "data": a.tobytes()}
for mi, model in enumerate(["resnet50", "clip-rn50"]):
    rng = np.random.RandomState(7 + mi)
    logits = rng.normal(0, 1, (len(rows), 1000)).astype(np.float32)
    for i, (f, wnid, label) in enumerate(rows):
        c = int(label) if (i + mi) % 3 else (int(label) + 1 + i) % 1000
        logits[i, c] += 2 + 0.5 * i
    logits *= scale
    for prec in ["fp32", "fp16"]:
        lg = logits if prec == "fp32" else (logits + rng.normal(0, 2e-3, logits.shape)).astype(np.float32)
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
                if model == "resnet50":
                    enc.write(msgpack.packb(dict(rec, type="logits", tensor=tensor(lg[i]))))
            mean, sd = timing[model, prec]
            enc.write(msgpack.packb({"type": "stats", "producer": "rnencode", "model": model, "precision": prec,
                                     "device": "cpu: test", "threads": 2, "batch": 1, "images": len(rows),
                                     "failed": 0, "batches": len(rows), "seconds": 2.0, "timed_batches": len(rows) - 1,
                                     "image_mean_s": mean, "image_std_s": sd, "peak_memory_bytes": 1 << 27,
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
    want = "%s: %d images, %d equal, mean |diff| %.3g, max %.3g" % (pretty[m], len(d), (d == 0).sum(), d.mean(), d.max())
    got = [t for t in hist if t.startswith(pretty[m] + ":")]
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
