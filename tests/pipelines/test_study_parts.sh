#!/usr/bin/env bash
# The study's pieces, fast: study-run keeps nothing from a failed or interrupted stage,
# study-id's identities change exactly when the data do, json-flat reads the programs'
# JSON, memplot draws one line per run, study-report refuses a run that scored no
# image, encode-shard and make study refuse bad parameters, and missing weights
# offline stop make study with fetch-weights' line.
source "$ROOT/tests/lib.sh"
P=$ROOT/pipelines

# ---- study-run ----
expect_exit 0 "$P/study-run" --log log --out a.txt -- printf 'one\ntwo\n'
[ "$(cat a.txt)" = "$(printf 'one\ntwo')" ] || fail "study-run: output not kept"
grep -qP '^\S+\tran\ta\.txt\t[0-9.]+\t0$' log || fail "study-run: log line: $(cat log)"
expect_exit 0 "$P/study-run" --log log --out b.txt -- sh -c 'echo partial; exit 1'
[ "$(cat b.txt)" = partial ] || fail "study-run: status 1 (some inputs failed) must keep the stream"
expect_exit 2 "$P/study-run" --log log --out c.txt -- sh -c 'echo partial; exit 2'
[ ! -e c.txt ] && [ -z "$(ls | grep tmp)" ] || fail "study-run: a failed stage left a file"
expect_stderr "^study-run: c\.txt: 'sh' exited 2; nothing kept"
grep -qP '\tc\.txt\t[0-9.]+\tfailed 2$' log || fail "study-run: failure not logged"
# --arg: the command writes the file itself, given a temporary name as its last argument
# (rnencode --save-calibration); its stdout is not kept; a status 0 with nothing written fails
expect_exit 0 "$P/study-run" --log log --arg cal.mp -- sh -c 'echo noise; echo scales >"$1"' sh
expect_empty_stdout
[ "$(cat cal.mp)" = scales ] || fail "study-run --arg: the file was not moved into place"
expect_exit 2 "$P/study-run" --log log --arg none.mp -- sh -c 'exit 0' sh
[ ! -e none.mp ] && [ -z "$(ls | grep tmp)" ] || fail "study-run --arg: nothing written, yet a file"
expect_stderr "^study-run: none\.mp: 'sh' exited 0 but wrote nothing to the file it was given$"
grep -qP '\tnone\.mp\t[0-9.]+\tfailed 2$' log || fail "study-run --arg: the failure not logged"
expect_exit 2 "$P/study-run" --log log --arg half.mp -- sh -c 'echo x >"$1"; exit 2' sh
[ ! -e half.mp ] && [ -z "$(ls | grep tmp)" ] || fail "study-run --arg: a failed command's file kept"
printf 'in\n' >in.txt
expect_exit 0 "$P/study-run" --log log --in in.txt --out d.txt --mem d.mem -- sh -c 'cat; sleep 1'
[ "$(cat d.txt)" = in ] || fail "study-run --in"
# Every line is a well-formed sample; the peak is a real process's RSS. A sample
# taken mid-exec may read a few KiB (CI once saw 8), so only the peak is bounded.
awk -F'\t' 'NF != 2 || $1 !~ /^[0-9]+\.[0-9]+$/ || $2 !~ /^[0-9]+$/ { bad = 1 } $2 > peak { peak = $2 }
	END { exit bad || NR < 2 || peak < 100 }' d.mem ||
	fail "study-run --mem: expected samples 'seconds rss_kib', got: $(head -3 d.mem)"
expect_exit 0 "$P/study-run" --log log --dir outdir -- sh -c 'mkdir "$0" && echo x >"$0/f"'
[ "$(cat outdir/f)" = x ] || fail "study-run --dir"
# what a stage writes is a new file or a regular one (the outfile rule of common/util/util.h):
# a symlink's target is replaced and the link kept; a FIFO, or a folder where
# a file goes, is refused before the command runs and left as it was (mv put
# the stream inside the folder, or replaced the FIFO, and said all was well)
echo old >target.txt && ln -s target.txt link.txt
expect_exit 0 "$P/study-run" --log log --out link.txt -- echo new
[ -L link.txt ] && [ "$(cat target.txt)" = new ] || fail "study-run through a symlink: $(ls -l link.txt)"
mkfifo fifo.mp && mkdir dir.mp
for o in fifo.mp dir.mp; do
	expect_exit 2 timeout 20 "$P/study-run" --log log --out $o -- sh -c 'touch ran; echo x'
	expect_stderr "^study-run: $o: not a regular file: only a regular file or a new name is written$"
	[ ! -e ran ] || fail "study-run --out $o: the command ran"
done
[ -p fifo.mp ] && [ -d dir.mp ] && [ -z "$(ls dir.mp)" ] || fail "study-run replaced or filled what it refused"
expect_exit 2 timeout 20 "$P/study-run" --log fifo.mp --out f.txt -- echo x
[ ! -e f.txt ] && [ -p fifo.mp ] || fail "study-run --log a FIFO"
expect_exit 2 timeout 20 "$P/study-run" --log log --out g.txt --mem fifo.mp -- echo x
[ ! -e g.txt ] && [ -p fifo.mp ] || fail "study-run --mem a FIFO"
expect_exit 2 "$P/study-run" --log log --dir a.txt -- sh -c 'mkdir "$0"'
expect_stderr "^study-run: a.txt: not a directory$"
[ -z "$(ls | grep '\.tmp\.')" ] || fail "a temporary left behind: $(ls)"
# interrupted: nothing that looks complete, and the command is stopped too
"$P/study-run" --log log --out e.txt -- sh -c 'echo $$ >pid; echo partial; exec sleep 30' 2>/dev/null &
runner=$!
for _ in $(seq 50); do [ -s pid ] && break; sleep 0.1; done
[ -s pid ] || fail "the interrupted command did not start"
kill -TERM $runner
wait $runner
st=$?
[ $st = 2 ] || fail "study-run killed: exit $st, expected 2"
[ ! -e e.txt ] && [ -z "$(ls | grep '^e\.txt\.tmp')" ] || fail "an interrupted stage left $(ls | grep e.txt)"
gone=0 # a loaded machine may take a while to deliver the signal: poll up to 5 s
for _ in $(seq 50); do
	case $(ps -o stat= -p "$(cat pid)" 2>/dev/null) in
	"" | Z*) gone=1; break ;; # gone, or a zombie its new parent has not reaped yet
	esac
	sleep 0.1
done
[ $gone = 1 ] || { kill "$(cat pid)"; fail "the interrupted stage's command still runs"; }

# ---- study-id ----
mkdir -p imgs/sub
cp "$TESTDATA/images/n01440764_tench.JPEG" imgs/
cp "$TESTDATA/images/n01496331_electric_ray.JPEG" imgs/sub/
id1=$("$P/study-id" data lists imgs - "$ROOT/data/wnids.txt") || fail "study-id data"
[[ $id1 =~ ^dir\ [0-9a-f]{16}\ 2$ ]] || fail "study-id data: '$id1' (its 2 images counted)"
[ "$("$P/study-id" data lists imgs - "$ROOT/data/wnids.txt")" = "$id1" ] || fail "study-id: not stable"
touch imgs/.hidden
[ "$("$P/study-id" data lists imgs - "$ROOT/data/wnids.txt")" = "$id1" ] || fail "study-id: a dot file changed the id"
touch -d '2001-01-01' imgs/sub/n01496331_electric_ray.JPEG
id2=$("$P/study-id" data lists imgs - "$ROOT/data/wnids.txt")
[ "$id2" != "$id1" ] || fail "study-id: a changed file kept the id"
id3=$("$P/study-id" data lists imgs "$TESTDATA/labels.tsv" "$ROOT/data/wnids.txt")
[ "$id3" != "$id2" ] || fail "study-id: labels not part of the id"
printf 'file\tindex\nn01440764_tench.JPEG\t0\nsub/n01496331_electric_ray.JPEG\t5\n' >s.tsv
t1=$("$P/study-id" data lists s.tsv - "$ROOT/data/wnids.txt" "$T/imgs") || fail "study-id data TSV"
[[ $t1 =~ ^tsv\ [0-9a-f]{16}\ 2$ ]] || fail "study-id TSV: '$t1' (its 2 rows counted)"
t1=${t1% *}
[ "$(cat "lists/${t1#tsv }.list")" = "$(printf '%s\n' "$T/imgs/n01440764_tench.JPEG" "$T/imgs/sub/n01496331_electric_ray.JPEG")" ] ||
	fail "study-id TSV list: $(cat "lists/${t1#tsv }.list")"
[ "$(sed -n 3p "lists/${t1#tsv }.tsv")" = "$T/imgs/sub/n01496331_electric_ray.JPEG	5" ] || fail "study-id TSV labels"
expect_exit 2 "$P/study-id" data lists nothere.tsv - -
expect_stderr '^study-id: nothere\.tsv: no such directory or labels file'
printf 'weights' >w.bin
s=$("$P/study-id" sha ids w.bin) && [ "$s" = "$(sha256sum <w.bin | cut -d' ' -f1)" ] || fail "study-id sha"
printf 'other' >w.bin
[ "$("$P/study-id" sha ids w.bin)" = "$(sha256sum <w.bin | cut -d' ' -f1)" ] || fail "study-id sha: stale memo"

# ---- json-flat ----
printf '{"a": {"b": [1, 2.5e-3, "x\\"y"], "c": null, "e": {}}, "d": true}' |
	awk -f "$P/json-flat.awk" >flat || fail "json-flat"
[ "$(cat flat)" = "$(printf 'a.b.0\t1\na.b.1\t2.5e-3\na.b.2\tx"y\na.c\tnull\nd\ttrue')" ] || fail "json-flat: $(cat flat)"
printf '{"a":1}\n{"a":2}\n' | awk -v lines=1 -f "$P/json-flat.awk" >flat
[ "$(cat flat)" = "$(printf '0.a\t1\n1.a\t2')" ] || fail "json-flat lines=1: $(cat flat)"
printf '{"a": [1, }' | awk -f "$P/json-flat.awk" >/dev/null 2>err && fail "json-flat accepted bad JSON"
grep -q '^json-flat: ' err || fail "json-flat: no error line"

# ---- memplot ----
printf 'resnet50 fp32\t0.1\t1024\t\nresnet50 fp32\t0.2\t204800\t\nresnet50 fp16\t0.1\t2048\t\nclip-rn50 fp32\n' |
	awk -f "$P/memplot.awk" -v title='t <&>' >m.svg || fail "memplot"
[ "$(grep -c '<polyline' m.svg)" = 2 ] && grep -q 'stroke-dasharray' m.svg && grep -q 't &lt;&amp;&gt;' m.svg &&
	grep -q "clip-rn50 fp32: no host samples" m.svg && grep -q "resnet50 fp32: peak 200.0 MiB resident" m.svg || fail "memplot: $(cat m.svg)"
! grep -q 'GPU memory' m.svg || fail "memplot: a GPU panel without GPU samples"
printf 'clip-rn50 fp16\t0.1\t1024\t\nclip-rn50 fp16\t0.2\t\t300\nclip-rn50 fp16\t0.5\t\t900\n' | awk -f "$P/memplot.awk" >g.svg
grep -q 'GPU memory held by rnencode (MiB)' g.svg && grep -q "peak 900.0 MiB on the GPU" g.svg || fail "memplot: no GPU panel"

# ---- study-report: a run with no scored image is no study ----
printf '\x82\xa4type\xa5error\xa2id\xa1x' >noimg.mp # one error record: every image failed
printf 'tench\n' >names1.txt
expect_exit 2 "$P/study-report" --bin "$BIN" --names names1.txt --run resnet50 fp32 noimg.mp noimg.mp none.mem rep
expect_stderr "^study-report: resnet50 fp32: no image was scored \(1 failed; recview -t error noimg\.mp \| head shows why\): no report$"
[ ! -e rep/report.md ] || [ ! -s rep/report.md ] || fail "study-report wrote a report over no image"

# ... a run of unlabelled images has no accuracy: n/a in the table, not 0.0000
printf 'u0 -1 3\nu1 -1 5\n' | $PY "$ROOT/tests/py/make_preds.py" --kind scores --model resnet50 --classes 1000 >u.mp ||
	fail "make_preds"
RNENC_DATA=$ROOT/data expect_exit 0 "$P/study-report" --bin "$BIN" --names "$ROOT/data/names-clip.txt" \
	--run resnet50 fp32 u.mp u.mp none.mem urep
grep -qF '| resnet50 | fp32 | 2 | 0 | n/a | n/a | 0/0 | 0/0 | n/a |' urep/report.md ||
	fail "unlabelled run: $(grep '^| resnet50' urep/report.md)"
# ... and its folder is its own: one holding other files is refused, left as it was
mkdir mine && echo keep >mine/report.md
expect_exit 2 "$P/study-report" --bin "$BIN" --names "$ROOT/data/names-clip.txt" --run resnet50 fp32 u.mp u.mp none.mem mine
expect_stderr "^study-report: mine: exists and is not an empty folder"
[ "$(ls mine)" = report.md ] && [ "$(cat mine/report.md)" = keep ] || fail "study-report wrote into a folder of other files"
# ids from the data reach the report's code blocks (fpdiff's table puts an unlabelled
# image's id alone on its line): an id of backticks must not close its block and turn
# what follows into markdown (a remote image, fetched by whoever views the report)
printf '%s\n' '``` -1 1' '![x](http://evil.example/x.png) -1 2' 'c 3 3' >ida.spec
printf '%s\n' '``` -1 5' '![x](http://evil.example/x.png) -1 5' 'c 3 3' >idb.spec
$PY "$ROOT/tests/py/make_preds.py" --kind scores --model resnet50 --classes 1000 <ida.spec >ida.mp &&
	$PY "$ROOT/tests/py/make_preds.py" --kind scores --model resnet50 --classes 1000 <idb.spec >idb.mp || fail "make_preds"
RNENC_DATA=$ROOT/data expect_exit 0 "$P/study-report" --bin "$BIN" --names "$ROOT/data/names-clip.txt" \
	--run resnet50 fp32 ida.mp ida.mp none.mem --run resnet50 fp16 idb.mp idb.mp none.mem idrep
grep -qF '![x](http://evil.example/x.png)' idrep/report.md || fail "the ids are not in the report"
# outside code blocks (a fence closes with at least as many backticks as opened it), no id
$PY - idrep/report.md <<'EOF' || fail "an id escaped its code block"
import re, sys
fence = 0
for n, line in enumerate(open(sys.argv[1]), 1):
    m = re.match(r" {0,3}(`{3,})(.*)", line.rstrip("\n"))
    if m and not fence:
        fence = len(m.group(1))
    elif m and len(m.group(1)) >= fence and not m.group(2).strip():
        fence = 0
    elif not fence:
        assert "evil.example" not in line, (n, line)
EOF
# json-flat keeps \n \t \r escaped: a value (an argv word, a file name) cannot forge a line
printf '{"weights":"x\\n0.weights_sha256\\t0676ba61","k":"a\\tb"}' | awk -f "$P/json-flat.awk" >flat
[ "$(cat flat)" = "$(printf 'weights\tx\\n0.weights_sha256\\t0676ba61\nk\ta\\tb')" ] || fail "json-flat escapes: $(cat -A flat)"

# ---- refusals ----
expect_exit 2 "$P/encode-shard" 0-2 x.mp resnet50 fp32 imgs
expect_stderr "expected I/N"
expect_exit 2 "$P/encode-shard" 0/2 x.mp resnet51 fp32 imgs
expect_stderr "^encode-shard: MODEL 'resnet51': not a model rnencode knows \(rnencode --help lists them\)$"
expect_exit 2 "$P/encode-shard" 0/2 x.mp resnet50-v2 fp32 imgs
expect_stderr "MODEL 'resnet50-v2': not a model rnencode knows"
expect_exit 2 "$P/encode-shard" 0/2 x.mp resnet18 fp8 imgs
expect_stderr "^encode-shard: PRECISION 'fp8': expected fp32, tf32, bf16, fp16 or int8$"
# int8 without the shared scales: one line here, not rnencode's usage error per shard
# (with them: test_study_int8.sh's Slurm plan)
RNENCODE_OPTS='--batch 1' expect_exit 2 "$P/encode-shard" 0/2 x.mp resnet18 int8 imgs
expect_empty_stdout
expect_stderr "^encode-shard: PRECISION int8: needs --calibration FILE in RNENCODE_OPTS \(the scales every shard shares: rnencode --calibrate SET --save-calibration FILE makes them\)$"
# precision-check: a sample image that does not decode is a failure of the check, not
# a stamp (rnencode was skipped and its status 1 read as "computes it")
mkdir -p pcbin && printf '#!/bin/sh\necho "imgdecode: a broken decoder" >&2\nexit 1\n' >pcbin/imgdecode &&
	chmod +x pcbin/imgdecode && ln -sf "$BIN/rnencode" pcbin/rnencode || fail "pcbin"
expect_exit 2 "$P/precision-check" --bin pcbin --device cpu --stamp pc.stamp resnet18 imagenet x.pth fp16
grep -qx "resnet18 fp16 on cpu: the sample image: imgdecode: a broken decoder" out || fail "precision-check: $(cat out)"
[ ! -e pc.stamp ] || fail "precision-check stamped a check that did not run"
# getopt's --calibration=FILE spelling is --calibration too (it was refused as missing)
RNENCODE_OPTS='--batch 1 --calibration=c.mp' "$P/encode-shard" 0/2 x.mp resnet18 int8 imgs >out 2>err
grep -q "needs --calibration" err && fail "--calibration=FILE not taken: $(cat err)"
rm -rf x.mp
RNENC_SHA256=0676ba expect_exit 2 "$P/encode-shard" 0/2 x/x.mp resnet50 fp32 imgs
expect_stderr "^encode-shard: RNENC_SHA256='0676ba': expected the weights' sha256 \(8 to 64 hex digits\)$"
expect_exit 2 "$P/encode-shard" --frob 0/2 x/x.mp resnet50 fp32 imgs
expect_stderr "^encode-shard: unknown option '--frob' \(try --help\)$"
[ ! -e x ] || fail "a refused encode-shard made its folder"
[ "$("$P/fetch-weights" --sha256 resnet50 clip-rn50)" = "$(printf '0676ba61\nafeb0e10f9e5a86da6080e35cf09123aca3b358a0c3e3b6c78a7b63bc04b6762')" ] ||
	fail "fetch-weights --sha256: $("$P/fetch-weights" --sha256 resnet50 clip-rn50)"
expect_exit 2 "$P/study-slurm" wait nowhere
expect_stderr "^study-slurm: nowhere: not a run folder of study-slurm"
expect_exit 2 "$P/study-slurm" launch
expect_stderr "^study-slurm: usage: "
for bad in MODELS=resnet51 PRECISIONS=fp8 DEVICE=tpu BATCH=x SHARDS=0 JOB_GPUS=-1; do
	expect_exit 2 make -C "$ROOT" --no-print-directory study "$bad" STUDY_BIN="$T/nobin" CACHE="$T/c" REPORT="$T/r"
	expect_stderr "^pipelines/study\.mk:[0-9]+: \*\*\* (MODELS|PRECISIONS|DEVICE|BATCH|SHARDS)"
done
expect_exit 2 make -C "$ROOT" --no-print-directory study-slurm DEVICE=cuda STUDY_BIN="$T/nobin" CACHE="$T/c" REPORT="$T/r"
expect_stderr "^pipelines/study\.mk:[0-9]+: \*\*\* DEVICE=cuda on Slurm needs JOB_GPUS=1 \(or more\): the GPUs each job asks for"
[ ! -e "$T/c" ] && [ ! -e "$T/r" ] || fail "a refused study left files"
# missing weights, offline: fetch-weights' one line says what to put where
mkdir -p bin
for p in imgdecode rnencode txtencode zscore errstats errtree fpdiff recview; do ln -s "$BIN/$p" bin/$p; done
https_proxy=http://127.0.0.1:9 http_proxy=http://127.0.0.1:9 \
	expect_exit 2 make -C "$ROOT" --no-print-directory study STUDY_BIN="$T/bin" WEIGHTS="$T/none" CACHE="$T/c"
expect_stderr "^fetch-weights: cannot download \(offline\?\): fetch https://download\.pytorch\.org/models/resnet50-0676ba61\.pth https://openaipublic\.azureedge\.net/clip/models/[0-9a-f]+/RN50\.pt and put the file\(s\) in $T/none "
exit 0
