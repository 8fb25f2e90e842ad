# The command-line conventions of doc/cli.md, from tables: every
# tests/readme/cli*.tsv, one row per run, tab-separated columns
#   program  args  exit  stderr-regex  stdout-check
# args are shell words (eval'd in this test's folder; they may redirect
# stdin: "< img.mp"); "TTY args" runs with stdout on a pseudo-terminal.
# stderr-regex: an extended regex stderr must match; "^$": stderr empty;
# blank: not checked. A row whose regex names an "old spelling" also needs
# exactly one such note on stderr. stdout-check: empty | nonempty | json
# (the whole of stdout, or each of its lines, loads in json.loads); blank:
# not checked. Lines starting with # and blank lines are skipped.
# Files here for the rows: img.mp (one imagenet image record from imgdecode),
# emb.mp (a 3-wide embedding), classes.mp (4 classes a..d of width 3, model
# toy), scores.mp (zscore of emb.mp), names4.txt, t.npy ([4,3]),
# w.safetensors (tensor "emb" [4,3]), tpl.txt, prompts.json, subset.txt,
# groups.tsv; $I is a JPEG, $TESTDATA and $ROOT as everywhere. A table
# cli-X.tsv may have a cli-X.sh beside it, sourced here first, to make more.
# Every program in cmd/ needs rows for --help, --version and an unknown
# option (--no-such-option); --version must print "PROG VERSION" exactly.
source "$ROOT/tests/lib.sh"
need_py msgpack
need_py numpy
export PYTHONPATH=$ROOT/tests/py
export I=$TESTDATA/images/n01440764_tench.JPEG

printf 'a\nb\nc\nd\n' >names4.txt
printf '0\n2\n' >subset.txt
printf '0 0\n1 0\n2 1\n3 1\n' >groups.tsv
printf 'a photo of a {}.\n' >tpl.txt
printf '{"a": ["a photo of a a."], "b": ["a photo of a b."]}\n' >prompts.json
$PY - <<'PY' || fail "making the fixtures"
import json, struct, msgpack, numpy as np
from score_numpy import tensor
t = np.arange(12, dtype=np.float32).reshape(4, 3) + 1
np.save("t.npy", t)
hdr = json.dumps({"emb": {"dtype": "F32", "shape": [4, 3], "data_offsets": [0, t.nbytes]}}).encode()
open("w.safetensors", "wb").write(struct.pack("<Q", len(hdr)) + hdr + t.tobytes())
open("emb.mp", "wb").write(msgpack.packb({"type": "embedding", "id": "x", "label": 1, "model": "toy",
                                          "precision": "fp32", "tensor": tensor(np.array([0, 1, 0], np.float32))}))
PY
txtembed-load -n names4.txt -m toy t.npy >classes.mp 2>/dev/null || fail "making classes.mp"
zscore --classes classes.mp emb.mp >scores.mp 2>/dev/null || fail "making scores.mp"
imgdecode --preset imagenet "$I" >img.mp 2>/dev/null || fail "making img.mp"

version=$(sed -n 's/^#define PROJECT_VERSION "\(.*\)"$/\1/p' "$ROOT/common/util/util.h")
[ -n "$version" ] || fail "no PROJECT_VERSION in common/util/util.h"
bad=0 rows=0
row_fail() { echo "FAIL: $tsv_name:$lineno: $prog $args: $*" >&2; bad=$((bad + 1)); }
check_row() {
	if [[ $args == TTY* ]]; then
		$PY "$ROOT/tests/py/ptyrun.py" "$prog ${args#TTY}"
	else
		eval "$prog $args" >out 2>err </dev/null
	fi
	local got=$?
	[ "$got" = "$want" ] || { row_fail "exit $got, expected $want; stderr: $(head -3 err)"; return; }
	if [ "$re" = '^$' ]; then
		[ ! -s err ] || { row_fail "stderr not empty: $(head -3 err)"; return; }
	elif [ -n "$re" ]; then
		grep -Eq -- "$re" err || { row_fail "stderr does not match /$re/: $(head -3 err)"; return; }
	fi
	if [[ $re == *"old spelling"* ]]; then
		local notes
		notes=$(grep -c 'old spelling' err)
		[ "$notes" = 1 ] || { row_fail "$notes notes of an old spelling, expected one: $(cat err)"; return; }
	fi
	case $check in
	'') ;;
	empty) [ ! -s out ] || row_fail "stdout not empty ($(wc -c <out) bytes)" ;;
	nonempty) [ -s out ] || row_fail "stdout empty" ;;
	json)
		[ -s out ] || { row_fail "stdout empty, expected JSON"; return; }
		$PY -c '
import json, sys
text = open("out", encoding="utf-8").read()
try:
    json.loads(text)
except ValueError:
    for n, line in enumerate(text.splitlines(), 1):
        try:
            json.loads(line)
        except ValueError as e:
            sys.exit("line %d: %s" % (n, e))' || row_fail "stdout is not JSON"
		;;
	*) row_fail "unknown stdout-check '$check' (empty, nonempty, json)" ;;
	esac
}

declare -A has_help has_version has_unknown
for tsv in "$ROOT"/tests/readme/cli*.tsv; do
	tsv_name=${tsv#"$ROOT"/}
	setup=${tsv%.tsv}.sh
	if [ -f "$setup" ]; then source "$setup" || fail "$setup failed"; fi
	lineno=0
	# \037 for the tab: read would merge a run of tabs, losing blank columns
	while IFS=$'\037' read -r prog args want re check; do
		lineno=$((lineno + 1))
		case $prog in '' | '#'*) continue ;; esac
		rows=$((rows + 1))
		check_row
		case "$args" in
		--help) has_help[$prog]=1 ;;
		--version)
			has_version[$prog]=1
			[ "$(cat out)" = "$prog $version" ] || row_fail "--version printed '$(cat out)', not '$prog $version'"
			;;
		--no-such-option*) [ "$want" = 2 ] && has_unknown[$prog]=1 ;;
		esac
	done < <(tr '\t' '\037' <"$tsv")
done
for p in $(cd "$ROOT/cmd" && ls *.c | sed 's/\.c$//'); do
	for need in help version unknown; do
		declare -n seen=has_$need
		[ -n "${seen[$p]:-}" ] || { echo "FAIL: no $need row for $p in tests/readme/cli*.tsv" >&2; bad=$((bad + 1)); }
	done
done
[ "$rows" -gt 0 ] || fail "no rows in tests/readme/cli*.tsv"
[ $bad = 0 ] || fail "$bad of $rows rows failed"
echo "$rows rows"
