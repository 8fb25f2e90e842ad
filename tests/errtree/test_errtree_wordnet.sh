# errtree on Debian's WordNet 3.0 (wordnet-base) with ImageNet's 1000
# classes: known pairs whose LCA and height were checked by hand, then 600
# random pairs against an independent Python implementation of the same
# definitions (tests/py/wordnet_ref.py).
#
# By hand (grep '^OFFSET ' /usr/share/wordnet/data.noun, following '@'):
# - Chihuahua (n02085620) @ toy dog @ dog; Siberian husky (n02110185)
#   @ sled dog @ working dog @ dog. They meet at dog (n02084071). Its
#   height is its longest path down to a class: dog > hunting dog >
#   sporting dog > spaniel > springer spaniel > English springer, 5 edges
#   (also dog > hunting dog > terrier > wirehair > Welsh terrier >
#   Sealyham terrier); so severity 5, though Chihuahua is only 2 below dog.
# - Chihuahua and sports car (n04285008 @ car @ motor vehicle @
#   self-propelled vehicle @ wheeled vehicle @ vehicle @ conveyance @
#   instrumentality @ artifact @ whole) meet at whole (n00003553), above
#   living thing and artifact: whole > living thing > organism > animal >
#   chordate > vertebrate > mammal > placental > carnivore > canine > dog
#   is 10 edges, plus dog's 5: 15. The root entity is 3 above whole
#   (entity > physical entity > object > whole): 18. "Near the root".
# - tiger cat (n02123159) and tabby (n02123045) @ domestic cat (n02121808),
#   whose five children (tabby, tiger cat, Persian, Siamese, Egyptian cat)
#   are all classes with nothing below: height 1.
# - Lakeland terrier (n02095570) @ wirehair (n02095412); Sealyham terrier
#   (n02095889) @ Welsh terrier @ wirehair: they meet at wirehair, height 2
#   (wirehair > Welsh terrier > Sealyham terrier; Welsh terrier is not an
#   ImageNet class).
# - The DAG: dog is a canine and a domestic animal; domestic cat is a cat
#   and a domestic animal. Chihuahua and tabby share carnivore (height 7:
#   carnivore > canine > dog + 5) and domestic animal (height 6: domestic
#   animal > dog + 5), neither above the other. The LCA is the one of
#   least height: domestic animal, severity 6. (590 of the 499,500 class
#   pairs meet this dog/cat choice; 638 have two such ancestors.)
source "$ROOT/tests/lib.sh"
[ -r /usr/share/wordnet/data.noun ] || skip "Debian's wordnet-base is not installed (/usr/share/wordnet/data.noun)"
need_py msgpack
need_py numpy
export RNENC_DATA=$ROOT/data
mk() { $PY "$ROOT/tests/py/make_preds.py" "$@"; }
cat > known.spec <<'EOF'
p1 151 250
p2 250 151
p3 151 817
p4 282 281
p5 189 190
p6 151 281
p7 134 517
p8 638 639
p9 657 744
p10 836 837
EOF
mk --kind logits --model m --classes 1000 < known.spec > known.mp || fail "make_preds"
expect_exit 0 errtree --json known.mp
$PY - out <<'EOF' || fail "known pairs"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["hierarchy"]["classes"] == 1000 and r["hierarchy"]["root"]["name"] == "entity", r["hierarchy"]
assert r["hierarchy"]["root"]["height"] == 18, r["hierarchy"]["root"]
got = {m["id"]: (m["lca"], m["lca_name"], m["severity"], m["ambiguous"]) for m in r["models"][0]["mistake_list"]}
want = {
    "p1": ("n02084071", "dog", 5, None),
    "p2": ("n02084071", "dog", 5, None),
    "p3": ("n00003553", "whole", 15, None),
    "p4": ("n02121808", "domestic cat", 1, None),
    "p5": ("n02095412", "wirehair", 2, None),
    "p6": ("n01317541", "domestic animal", 6, None),
}
for k, v in want.items():
    assert got[k] == v, (k, got[k], v)
# The label set's own ambiguities: names-imagenet.txt's two cranes and two
# maillots, names-clip.txt's two missiles and two sunglasses.
amb = {k: got[k][3] for k in ("p7", "p8", "p9", "p10")}
assert amb["p7"]["same_name"] == "crane" and amb["p7"]["names_file"].endswith("names-imagenet.txt"), amb
assert amb["p8"]["same_name"] == "maillot", amb
assert amb["p9"]["same_name"] == "missile" and amb["p9"]["names_file"].endswith("names-clip.txt"), amb
assert amb["p10"]["same_name"] == "sunglasses", amb
same = sorted((s["name"], s["classes"]) for s in r["ambiguity"]["same_name"])
assert same == [("crane", [134, 517]), ("maillot", [638, 639]), ("missile", [657, 744]),
                ("sunglasses", [836, 837])], same
assert r["ambiguity"]["ancestor_pairs"] == [], r["ambiguity"]["ancestor_pairs"]
# Families with the default --family-max 130: all 118 dogs in canine.
fam = r["families"][0]
assert (fam["node"]["name"], fam["classes"]) == ("canine", 130), fam
EOF
expect_exit 0 errtree known.mp
grep -q '^ *1  tiger cat -> tabby (both: domestic cat, severity 1)$' out || fail "text: $(grep tiger out)"

# 600 random pairs against the Python reference.
$PY -c '
import random
random.seed(10)
for i in range(600):
    a = random.randrange(1000); b = random.randrange(999); b += b >= a
    print(a, b)' > pairs.txt
awk '{print "r" NR, $1, $2}' pairs.txt | mk --kind topk --model m --classes 1000 > pairs.mp || fail "make_preds"
expect_exit 0 errtree --json pairs.mp
$PY -c '
import json, sys
for m in json.load(open("out"))["models"][0]["mistake_list"]:
    print(m["true"], m["pred"], m["lca"], m["severity"])' > got.txt || fail "read JSON"
$PY "$ROOT/tests/py/wordnet_ref.py" /usr/share/wordnet/data.noun "$ROOT/data/wnids.txt" pairs.txt want.txt ||
	fail "wordnet_ref.py"
[ "$(wc -l < want.txt)" = 600 ] || fail "reference wrote $(wc -l < want.txt) lines"
diff want.txt got.txt > diff.txt || { head diff.txt; fail "errtree and wordnet_ref.py disagree"; }

# The default class list: data/ beside the binary's bin/ (a checkout).
if [ -r "$BIN/../data/wnids.txt" ]; then
	env -u RNENC_DATA errtree known.mp > out2 || fail "default data dir: exit $?"
	grep -q "^classes    1000 ($BIN/../data/wnids.txt)\$" out2 || fail "default data dir: $(sed -n 3p out2)"
fi
exit 0
