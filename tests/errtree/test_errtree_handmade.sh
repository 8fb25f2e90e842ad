# errtree on the hand-made hierarchy testdata/errtree/data.noun: two small
# models whose every LCA and severity is worked out by hand in
# testdata/errtree/resnet.spec and clip.spec; the text report is compared
# with a golden file, the JSON report value by value.
source "$ROOT/tests/lib.sh"
need_py msgpack
need_py numpy
cp -r "$TESTDATA/errtree" h
mk() { $PY "$ROOT/tests/py/make_preds.py" "$@"; }
mk --kind scores --model resnet50 --classes 12 < h/resnet.spec > a.mp || fail "make_preds"
mk --kind topk --model clip-rn50 --classes 12 < h/clip.spec > b.mp || fail "make_preds"
ET=(errtree --wordnet h --wnids h/wnids.txt --names h/names-imagenet.txt --names h/names-clip.txt --family-max 5)

# The golden report (exit 1: a.mp holds an upstream error record).
expect_exit 1 "${ET[@]}" a.mp --compare b.mp --list
diff -u "$ROOT/tests/errtree/compare.golden" out || fail "report differs from tests/errtree/compare.golden"
[ ! -s err ] || fail "stderr not empty: $(cat err)"

expect_exit 1 "${ET[@]}" --json a.mp --compare b.mp
$PY - out <<'EOF' || fail "JSON report"
import json, sys
r = json.load(open(sys.argv[1]))
a, b = r["models"]
def near(x, y): return abs(x - y) < 1e-7
assert r["hierarchy"]["classes"] == 12 and r["hierarchy"]["synsets"] == 28, r["hierarchy"]
assert r["hierarchy"]["root"] == {"wnid": "n00001000", "name": "entity", "height": 7, "depth": 0,
                                   "classes_below": 12}
# model A: counted apart, never dropped
assert (a["model"], a["predictions"], a["error_records"], a["unlabelled"], a["labelled"], a["correct"],
        a["mistakes"], a["bad_records"]) == ("resnet50", 13, 1, 1, 11, 2, 9, 0), a
assert near(a["mean_severity"], 23 / 9) and near(a["mean_severity_unambiguous"], 14 / 6), a
assert a["ambiguous_mistakes"] == 3 and a["near_mistakes"] == 6 and near(a["near_share"], 6 / 9)
assert a["histogram"] == [0, 5, 1, 1, 0, 0, 1, 1], a["histogram"]
want = {"a1": ("n00008000", 1), "a2": ("n00008000", 1), "a3": ("n00007000", 2), "a4": ("n00003000", 3),
        "a5": ("n00009100", 1), "a6": ("n00001000", 7), "a8": ("n00022000", 1), "a9": ("n00029000", 1),
        "a13": ("n00002000", 6)}
got = {m["id"]: (m["lca"], m["severity"]) for m in a["mistake_list"]}
assert got == want, got
amb = {m["id"]: m["ambiguous"] for m in a["mistake_list"] if m["ambiguous"]}
assert amb["a6"]["same_name"] == "crane" and amb["a6"]["names_file"].endswith("names-imagenet.txt"), amb
assert amb["a8"] == {"ancestor": 8}, amb
assert amb["a9"]["same_name"] == "tower" and amb["a9"]["names_file"].endswith("names-clip.txt"), amb
c0 = a["confusions"][0]
assert (c0["count"], c0["true_name"], c0["pred_name"], c0["lca_name"], c0["severity"]) == \
    (2, "Airedale", "Border terrier", "terrier", 1), c0
# model B
assert (b["model"], b["predictions"], b["labelled"], b["correct"], b["mistakes"]) == ("clip-rn50", 11, 11, 3, 8), b
assert near(b["mean_severity"], 17 / 8) and near(b["mean_severity_unambiguous"], 16 / 7), b
assert b["histogram"] == [0, 4, 2, 1, 0, 0, 1, 0], b["histogram"]
# families at most 5 classes: mammal (0-4), artifact (7-11), bird (5-6)
assert [(f["node"]["name"], f["classes"]) for f in r["families"]] == [("mammal", 5), ("artifact", 5), ("bird", 2)]
assert [(f["images"], f["mistakes"], f["in_family"]) for f in a["families"]] == [(7, 6, 5), (2, 2, 2), (2, 1, 0)]
assert [(f["images"], f["mistakes"], f["in_family"]) for f in b["families"]] == [(7, 4, 3), (2, 2, 2), (2, 2, 2)]
assert near(a["families"][0]["mean_severity"], 14 / 6) and near(b["families"][0]["mean_severity"], 11 / 4)
p = r["paired"]
assert (p["both_wrong"], p["a_farther"], p["b_farther"], p["equal"], p["only_a_wrong"], p["only_b_wrong"],
        p["both_right"], p["unmatched"]) == (6, 1, 3, 2, 3, 2, 0, 0), p
assert near(p["mean_severity_a"], 2.5) and near(p["mean_severity_b"], 2.5), p
amb = r["ambiguity"]
assert amb["ancestor_pairs"] == [{"ancestor": 8, "descendant": 9}], amb
assert [(s["name"], s["classes"]) for s in amb["same_name"]] == [("crane", [5, 7]), ("tower", [10, 11])], amb
EOF

# The same predictions as scores, logits or topk give the same figures;
# stdin works; a clean stream exits 0.
grep -v error h/resnet.spec > clean.spec
for kind in scores logits topk; do
	mk --kind $kind --model m --classes 12 < clean.spec > $kind.mp || fail "make_preds $kind"
	expect_exit 0 "${ET[@]}" --json < $kind.mp
	$PY -c 'import json,sys; m=json.load(open("out"))["models"][0]; print(m["mistakes"], m["histogram"], m["error_records"])' \
		> $kind.sum || fail "read $kind JSON"
done
[ "$(cat scores.sum)" = "9 [0, 5, 1, 1, 0, 0, 1, 1] 0" ] || fail "scores: $(cat scores.sum)"
cmp -s scores.sum logits.sum && cmp -s scores.sum topk.sum || fail "kinds disagree: $(cat ./*.sum)"

# --near and --top change what they say they change.
expect_exit 0 "${ET[@]}" --near 1 --top 1 scores.mp
grep -q '^near misses (<= 1) .* 5 (55.6%)$' out || fail "--near 1: $(grep near out)"
n=$(grep -c '^ *[0-9][0-9]*  .* -> ' out)
[ "$n" = 1 ] || fail "--top 1 lists $n confusions"

# --families 1: mammal, then artifact and bird together as "other":
# images 2 + 2, mistakes a8 a9 (severity 1, 1, in family) and a6 (7, not).
expect_exit 0 "${ET[@]}" --families 1 scores.mp
grep -Eq '^  other 2 families \(7\) +m +4 +3 +3\.00 +2 \(67%\)$' out || fail "--families 1: $(grep other out)"

# A pair can be ambiguous twice over: both flags are kept.
sed '9s/.*/glasses/;10s/.*/glasses/' h/names-clip.txt > glasses.txt
expect_exit 0 errtree --wordnet h --wnids h/wnids.txt --names glasses.txt --json scores.mp
$PY -c '
import json
m = {x["id"]: x["ambiguous"] for x in json.load(open("out"))["models"][0]["mistake_list"]}
assert m["a8"] == {"same_name": "glasses", "names_file": "glasses.txt", "ancestor": 8}, m["a8"]
assert m["a9"]["same_name"] == "tower" and m["a6"] is None, m' || fail "double ambiguity"

# Without --names the classes are named by WordNet's first word.
expect_exit 0 errtree --wordnet h --wnids h/wnids.txt --top 20 scores.mp
grep -q 'crane #5 -> crane #7 (both: entity, severity 7)$' out || fail "WordNet names: $(grep crane out)"
grep -q 'label-set ambiguity' out && grep -q '8 spectacles (n00022000) is above 9 sunglasses' out ||
	fail "ancestor pair not listed without names files"
exit 0
