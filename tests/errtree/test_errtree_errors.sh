# errtree's failures: a missing or broken WordNet, class list or names file
# stop it (exit 2, nothing on stdout, one clear line); bad records are
# counted in the report and named on stderr (exit 1); a broken stream is
# fatal (exit 2).
source "$ROOT/tests/lib.sh"
need_py msgpack
need_py numpy
cp -r "$TESTDATA/errtree" h
mk() { $PY "$ROOT/tests/py/make_preds.py" "$@"; }
printf 'x1 0 1\nx2 2 2\n' | mk --kind scores --model m --classes 12 > ok.mp || fail "make_preds"
H=(--wordnet h --wnids h/wnids.txt)

# WordNet missing: the path, the reason, what to do.
expect_exit 2 errtree --wordnet nowhere --wnids h/wnids.txt ok.mp
expect_empty_stdout
expect_stderr '^errtree: nowhere/data.noun: No such file or directory: no WordNet 3.0 noun database there \(install Debian.s wordnet-base, or give --wordnet DIR'
# $WNHOME/dict is WordNet's own convention; --wordnet wins over it.
mkdir -p wnhome/dict && cp h/data.noun wnhome/dict/
WNHOME=$PWD/wnhome expect_exit 0 errtree --wnids h/wnids.txt ok.mp
grep -q "^wordnet    $PWD/wnhome/dict/data.noun\$" out || fail "WNHOME not used: $(head -3 out)"
WNHOME=$PWD/nowhere expect_exit 2 errtree --wnids h/wnids.txt ok.mp
expect_stderr "nowhere/dict/data.noun: No such file"
WNHOME=$PWD/nowhere expect_exit 0 errtree "${H[@]}" ok.mp

# A malformed data.noun names the file and line.
sed 's/^00008000 05 n 01 terrier 0 001/00008000 05 n 01 terrier 0 002/' h/data.noun > bad.noun
mkdir -p badwn && mv bad.noun badwn/data.noun
expect_exit 2 errtree --wordnet badwn --wnids h/wnids.txt ok.mp
expect_empty_stdout
expect_stderr "^errtree: badwn/data.noun:32: pointer 2: synset_offset 'a' is not 8 decimal digits$"

# Class lists.
expect_exit 2 errtree --wordnet h --wnids nofile.txt ok.mp
expect_empty_stdout
expect_stderr '^errtree: nofile.txt: No such file'
RNENC_DATA=$PWD/nodata expect_exit 2 errtree --wordnet h ok.mp
expect_stderr 'nodata/wnids.txt: No such file or directory: no default class list \(set RNENC_DATA'
sed '3s/.*/n0000830x/' h/wnids.txt > w1.txt
expect_exit 2 errtree --wordnet h --wnids w1.txt ok.mp
expect_stderr "^errtree: w1.txt: line 3: 'n0000830x' is not a noun wnid"
sed '3s/.*/n00008301/' h/wnids.txt > w2.txt
expect_exit 2 errtree --wordnet h --wnids w2.txt ok.mp
expect_stderr '^errtree: w2.txt: class 2: n00008301 is not a noun synset in h/data.noun$'
sed '3s/.*/n00008100/' h/wnids.txt > w3.txt
expect_exit 2 errtree --wordnet h --wnids w3.txt ok.mp
expect_stderr 'classes 0 and 2 are the same synset n00008100'
head -n 11 h/names-imagenet.txt > n11.txt
expect_exit 2 errtree "${H[@]}" --names n11.txt ok.mp
expect_stderr '^errtree: n11.txt: 11 names, but h/wnids.txt has 12 classes$'

# Usage.
expect_exit 2 errtree "${H[@]}" --near x ok.mp
expect_empty_stdout
expect_exit 2 errtree "${H[@]}" --bogus ok.mp
expect_exit 2 errtree "${H[@]}" ok.mp ok.mp
expect_stderr 'second model goes to --compare'
expect_exit 2 errtree "${H[@]}" nofile.mp
expect_stderr '^errtree: nofile.mp: No such file'

# Bad records: counted and named, the rest of the stream still reported.
cat > bad.spec <<'EOF'
y1 0 1
y2 99 1
y3 4 3
EOF
mk --kind scores --model m --classes 12 < bad.spec > bad.mp || fail "make_preds"
printf 'y4 0 1\n' | mk --kind scores --model m --classes 10 >> bad.mp || fail "make_preds"
printf 'y5 0 1\n' | mk --kind scores --model other --classes 12 >> bad.mp || fail "make_preds"
expect_exit 1 errtree "${H[@]}" --json bad.mp
expect_stderr "^errtree: bad.mp: record 2 \(id 'y2'\): label 99 is out of range \(12 classes in h/wnids.txt\)$"
expect_stderr "^errtree: bad.mp: record 5 \(id 'y4'\): 10 scores, but h/wnids.txt has 12 classes$"
$PY - out <<'EOF' || fail "bad records not counted"
import json, sys
m = json.load(open(sys.argv[1]))["models"][0]
assert (m["predictions"], m["bad_records"], m["labelled"], m["mistakes"], m["mixed_models"]) == (5, 2, 3, 3, True), m
EOF

# A truncated stream is fatal: exit 2 and no report.
head -c $(($(wc -c < ok.mp) - 3)) ok.mp > trunc.mp
expect_exit 2 errtree "${H[@]}" trunc.mp
expect_empty_stdout
expect_stderr 'trunc.mp'
exit 0
