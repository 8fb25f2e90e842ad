#!/usr/bin/env bash
# txtencode's tokenizer against ids made by CLIP's own Python tokenizer
# (testdata/txtencode/, made by tests/py/txtencode_make_fixture.py):
# all 1000 x 80 ImageNet prompts, the tricky strings (punctuation,
# apostrophes, digits, case, whitespace, entities, non-ASCII, the special
# tokens, a text over the context), truncation, and the one documented
# departure (ftfy's mojibake repair). No weights needed: --tokenize stops
# before the model.
source "$ROOT/tests/lib.sh"
FX=$ROOT/testdata/txtencode

# the default prompt set (data/names-clip.txt x data/templates-clip.txt)
txtencode --tokenize >ids.txt 2>err || { cat err; fail "txtencode --tokenize failed"; }
gzip -dc "$FX/tokens-imagenet80.txt.gz" >want.txt
[ "$(wc -l <ids.txt)" = 80000 ] || fail "expected 80000 prompts, got $(wc -l <ids.txt)"
if ! cmp -s ids.txt want.txt; then
	diff want.txt ids.txt | head -n 6
	fail "token ids differ from CLIP's tokenizer on the ImageNet prompts"
fi
# the same set named explicitly, from testdata/
txtencode --tokenize -n "$ROOT/data/names-clip.txt" --templates "$ROOT/data/templates-clip.txt" | cmp -s - want.txt ||
	fail "explicit --names/--templates give other ids than the defaults"

# tricky strings, as a --prompts file
check_tricky() { # $1: ids file, $2: field of tricky-expected.json
	$PY - "$1" "$2" "$FX/tricky-expected.json" <<'PYEOF'
import json, sys
got = [[int(x) for x in l.split()] for l in open(sys.argv[1]).read().splitlines()]
rows = json.load(open(sys.argv[3], encoding="utf-8"))["rows"]
field = sys.argv[2]
assert len(got) == len(rows), f"{len(got)} lines for {len(rows)} strings"
bad = [(r["text"], g, r[field]) for r, g in zip(rows, got) if g != r[field]]
for text, g, want in bad[:5]:
    print(f"{text!r}:\n  got  {g}\n  want {want}")
# every string but the mojibake ones must equal CLIP's own ids
for r in rows:
    if field == "expected" and not r["departure"]:
        assert r["expected"] == r["clip"], r["text"]
dep = [r["text"] for r in rows if r["departure"]]
assert all("\u00c3" in t or "\u00e2\u20ac" in t for t in dep), f"unexpected departures: {dep}"
print(f"{len(rows)} tricky strings, {len(bad)} differ ({field}); {len(dep)} mojibake departures")
sys.exit(1 if bad else 0)
PYEOF
}
expect_exit 0 txtencode --tokenize --prompts "$FX/tricky.json"
check_tricky out expected || fail "tricky strings differ"
expect_exit 0 txtencode --tokenize --truncate --prompts "$FX/tricky.json"
check_tricky out truncated || fail "truncated tricky strings differ"
awk 'NF > 77 { bad = 1 } END { exit bad }' out || fail "--truncate left a line over 77 ids"

# over-long text: an error naming class and prompt, nothing on stdout
expect_exit 2 txtencode --prompts "$FX/tricky.json" -w /nonexistent/RN50.pt
expect_empty_stdout
expect_stderr "class 1 'tricky', prompt [0-9]+ 'a photo of a very long .*: [0-9]+ tokens, over CLIP's context of 77"
printf 'tench\n' >n.txt
long=$(printf 'word %.0s' $(seq 1 80))
printf 'a photo of {}.\n%s{}\n' "$long" >t.txt
expect_exit 2 txtencode -n n.txt --templates t.txt -w /nonexistent/RN50.pt
expect_stderr "class 1 'tench', template 2 'word word.*: 8[0-9] tokens, over"
expect_empty_stdout

# bad inputs: one line naming the file or the prompt, exit 2, no output
# a class name goes into the classes record as text: it must be UTF-8, whether or not
# a template holds {} (the name alone would otherwise pass the tokenizer's check)
printf 'caf\xe9\n' >latin1.txt
printf 'a photo\n' >nobrace.txt
for tpl in t.txt nobrace.txt; do
	expect_exit 2 txtencode --tokenize -n latin1.txt --templates $tpl
	expect_empty_stdout
	expect_stderr "^txtencode: --names: latin1.txt: line 1 is not UTF-8 \(byte 4\): the file must be UTF-8 text"
done
# the same in a templates file names that file and option, not "names"
expect_exit 2 txtencode --tokenize -n n.txt --templates latin1.txt
expect_empty_stdout
expect_stderr "^txtencode: --templates: latin1.txt: line 1 is not UTF-8 \(byte 4\): the file must be UTF-8 text"
# an empty or blank prompts file says so, not "byte 1: '{'"
: >empty.json
expect_exit 2 txtencode --tokenize --prompts empty.json
expect_empty_stdout
expect_stderr "^txtencode: --prompts: empty.json: byte 1: the file is empty \(the form is \{"
printf '{"\xffcat": ["a cat"], "dog": ["a dog"]}' >bad8.json
expect_exit 2 txtencode --tokenize --prompts bad8.json
expect_stderr "bad8.json: byte 3: invalid UTF-8 in a string"
printf 'tench\nca\000t\n' >nul.txt
expect_exit 2 txtencode --tokenize -n nul.txt --templates t.txt
expect_stderr "nul.txt: line 2 holds a NUL byte: not a text file"
printf 'a {x} photo\n' >badtpl.txt
expect_exit 2 txtencode --tokenize -n n.txt --templates badtpl.txt
expect_stderr "badtpl.txt: template 1 'a \{x\} photo': a '\{' that is not"
printf '{"a": ["x", "y"], "b": ["z"]}' >uneven.json
expect_exit 2 txtencode --prompts uneven.json --per-template -w /nonexistent
expect_stderr "class 'a' has 2 prompts, class 'b' 1"
printf '{"a": ["x", ]}' >bad.json
expect_exit 2 txtencode --tokenize --prompts bad.json
expect_stderr "bad.json: byte 13: expected a string, found '\]'"
printf '{"a": ["x\\u0000"]}' >nul.json
expect_exit 2 txtencode --tokenize --prompts nul.json
expect_stderr 'nul.json: byte [0-9]+: \\u0000 in a string'
expect_exit 2 txtencode --tokenize --vocab "$TESTDATA/labels.tsv"
expect_stderr "labels.tsv: [0-9]+ merge lines|labels.tsv: line"
expect_exit 2 txtencode --device tpu
expect_stderr "--device: 'tpu' is not auto, cpu or cuda"
expect_exit 2 txtencode --prompts uneven.json -n n.txt
expect_stderr "give one or the other"

# {{ }} and {0} follow str.format
printf 'a {{{0}}} b\n' >fmt.txt
txtencode --tokenize -n n.txt --templates fmt.txt >ids1 || fail "format template"
printf '{"tench": ["a {tench} b"]}' >fmt.json
txtencode --tokenize --prompts fmt.json >ids2 || fail "json prompts"
cmp -s ids1 ids2 || fail "'a {{{0}}} b' is not 'a {tench} b'"
echo "ok: 80000 ImageNet prompts and the tricky strings match CLIP's tokenizer"

# --batch-rows: a batch's GPU buffers must stay under 2^31 elements
expect_exit 2 txtencode --tokenize -n n.txt --templates t.txt --batch-rows 524289
expect_empty_stdout
expect_stderr "^txtencode: --batch-rows: 524289 is out of range 77..524288$"
