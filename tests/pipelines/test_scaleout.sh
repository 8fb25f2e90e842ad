#!/usr/bin/env bash
# The README's by-hand scale-out lines, verbatim (pipelines/README.md, "By hand"): xargs on
# this machine, and GNU parallel over ssh to two hosts, gpu1 and gpu2, both an sshd on
# 127.0.0.1 started for this test (tests/cluster-lib.sh). The merged shards equal one
# process's records bit for bit (2 images: no shard holds two, so no batch holds two; two of
# xargs' four shards are empty). The remote
# shells read the weights the line passes with --env (rnencode's header names them), and
# without RNENC_SHA256 each remote task compares the random test weights with the
# published file's sha256 and fails, keeping nothing.
source "$ROOT/tests/lib.sh"
source "$ROOT/tests/pipelines/study-lib.sh"
source "$ROOT/tests/cluster-lib.sh"
need_sshd
command -v parallel >/dev/null || _cl_missing "needs GNU parallel (Debian: apt-get install parallel)"
study_setup 2
study_folder
sshd_start gpu1 gpu2

export VAL=$T/imgs RUN=$T/run RNENC_WEIGHTS=$W STUDY_BIN=$SB
export RNENC_SHA256=$(sha256sum <"$CKPT_DIR/resnet50.pth" | cut -c1-64)
# runs LINE in the checkout, its output appended to $1.out
run_line() { (cd "$ROOT" && bash -c "$2") >>"$1.out" 2>&1; }

# one process, one image per batch
for p in fp32 fp16; do
	RNENCODE_OPTS="--batch 1" "$ROOT/pipelines/encode-shard" 0/1 "$T/one-$p.mp" resnet50 $p \
		--wnids "$ROOT/data/wnids.txt" "$VAL" 2>>one.out || { cat one.out; fail "one process, $p"; }
	records "-t logits -t error" "one-$p.mp" >"one-$p"
	[ "$(wc -l <"one-$p")" = 2 ] || fail "one process $p: $(wc -l <"one-$p") records"
done

# ---- xargs ----
line=$(readme_block xargs)
[[ $line == "seq 0 3 | xargs "* ]] && [ "$(wc -l <<<"$line")" = 1 ] || fail "the README's xargs block changed: $line"
run_line xargs "$line" || { cat xargs.out; fail "README xargs line failed"; }
records "-t logits -t error" "$RUN"/resnet50-fp32-{0,1,2,3}.mp >many
cmp -s one-fp32 many || fail "README xargs: the shards differ from one process's records"

# ---- GNU parallel over ssh ----
line=$(readme_block parallel)
[[ $line == "parallel -S gpu1,gpu2 "* ]] && [ "$(wc -l <<<"$line")" = 1 ] || fail "the README's parallel block changed: $line"
run_line parallel "$line" || { cat parallel.out; fail "README parallel line failed"; }
records "-t logits -t error" "$RUN"/resnet50-fp16-{0,1}.mp >many
cmp -s one-fp16 many || fail "README parallel: the shards differ from one process's records"
for i in 0 1; do
	"$SB/recview" -t header "$RUN/resnet50-fp16-$i.mp" | grep -q "\"weights\":\"$W/resnet50-0676ba61.pth\"" ||
		fail "README parallel: shard $i did not read \$RNENC_WEIGHTS: $("$SB/recview" -t header "$RUN/resnet50-fp16-$i.mp" | tail -n 1)"
done
[ -z "$(ls "$ROOT" | grep -E '^resnet50|\.mp$')" ] || fail "README parallel: files in the checkout"

# without RNENC_SHA256 the remote tasks expect the published file: both fail, nothing kept
rm -rf "$RUN"
(unset RNENC_SHA256 && run_line refused "$line") && fail "parallel: the random weights passed for the published file"
[ "$(grep -c "^encode-shard: $RUN/resnet50-fp16-[01]\.mp: rnencode used $W/resnet50-0676ba61\.pth (sha256 $RNENC_SHA256), not the weights this run expects (the published resnet50 file: sha256 0676ba61\.\.\.); nothing kept$" refused.out)" = 2 ] ||
	{ cat refused.out; fail "parallel without RNENC_SHA256: not the weights check's message from both hosts"; }
[ -z "$(ls "$RUN" 2>/dev/null)" ] || fail "refused shards left files: $(ls "$RUN")"
exit 0
