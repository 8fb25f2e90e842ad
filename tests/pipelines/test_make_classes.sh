#!/usr/bin/env bash
# make classes writes zscore's default class table into the weights folder (here from a
# random-weight CLIP checkpoint and one template), and then the mission's pipeline runs on
# defaults alone: imgdecode | rnencode --fp16 | zscore | topk, every class named. Offline
# with no checkpoint, it stops with fetch-weights' one line and leaves no table.
source "$ROOT/tests/lib.sh"
source "$ROOT/tests/fixtures.sh"
need_checkpoints
[ "${ASAN:-0}" = 1 ] && skip "runs the text tower over 1000 classes: too slow under ASan"
mkdir w
ln -s "$CKPT_DIR/clip-rn50.pt" w/RN50.pt
echo 'a photo of a {}.' >t1.txt
make -C "$ROOT" --no-print-directory classes WEIGHTS="$T/w" TEMPLATES="$T/t1.txt" >make.out 2>&1 ||
	{ cat make.out; fail "make classes"; }
[ -s w/classes-clip-rn50.mp ] && [ -z "$(ls w | grep tmp)" ] || fail "no table, or a temporary file left: $(ls w)"
# the same table txtencode writes by hand
txtencode --weights w/RN50.pt --templates t1.txt >direct.mp 2>/dev/null || fail "txtencode"
cmp <("$BIN/recview" -t classes w/classes-clip-rn50.mp | sed 's/"argv":[^]]*]//') \
	<("$BIN/recview" -t classes direct.mp | sed 's/"argv":[^]]*]//') || fail "make classes differs from txtencode"
export RNENC_WEIGHTS=$T/w
imgdecode "$TESTDATA/images/n01440764_tench.JPEG" "$TESTDATA/images/n02088364_beagle.JPEG" 2>/dev/null |
	rnencode --model clip-rn50 --fp16 2>/dev/null | zscore 2>err.txt | topk -k 3 --format tsv >top.tsv ||
	{ cat err.txt; fail "the default pipeline"; }
[ "$(awk -F'\t' '$1 != "id"' top.tsv | wc -l)" = 6 ] || fail "topk: $(cat top.tsv)"
awk -F'\t' '$1 != "id" && $NF == ""' top.tsv | grep -q . && fail "a class without a name: $(cat top.tsv)"
# offline (a proxy that refuses connections), no checkpoint: fetch-weights' line, exit 2, no table
mkdir empty
https_proxy=http://127.0.0.1:9 http_proxy=http://127.0.0.1:9 make -C "$ROOT" --no-print-directory classes WEIGHTS="$T/empty" TEMPLATES="$T/t1.txt" \
	>make.out 2>&1 && fail "make classes without a checkpoint succeeded"
grep -q "fetch-weights" make.out && [ -z "$(ls empty)" ] || fail "offline: $(cat make.out; ls empty)"
exit 0
