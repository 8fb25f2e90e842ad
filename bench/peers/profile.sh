#!/usr/bin/env bash
# bench/peers/profile.sh MODEL BATCH [FLAGS...] - where rnencode's CPU time goes
# beside OpenVINO's on the same model, batch and thread count (THREADS, default 2):
# rnencode (FLAGS passed on, e.g. --fp16) under ONEDNN_VERBOSE=1, its oneDNN
# primitives summed by kind and implementation and the rest (its plain-C steps)
# by difference (bench/peers/peers.py profile-rn); then OpenVINO FP32's per-layer
# PERF_COUNT times summed by layer type (profile-ov). BATCHES timed batches (4)
# after a warm-up one. Not a benchmark (make bench does not run it): verbose
# logging slows rnencode's small primitives down a little.
set -u
cd "$(dirname "$0")/../.." || exit 2
source bench/lib.sh
model=${1:?usage: bench/peers/profile.sh resnet50|clip-rn50 BATCH [rnencode flags]}
batch=${2:?usage: bench/peers/profile.sh resnet50|clip-rn50 BATCH [rnencode flags]}
shift 2
THREADS=${THREADS:-2}
BATCHES=${BATCHES:-4}
peers_ready || exit $?
case $model in
resnet50) w=build/fixtures/resnet50.pth preset=imagenet ;;
clip-rn50) w=build/fixtures/clip-rn50.pt preset=clip ;;
*) echo "profile: unknown model $model"; exit 2 ;;
esac
T=$(mktemp -d /tmp/peers-profile.XXXXXX)
trap 'rm -rf "$T"' EXIT
"$PY" tests/py/rnencode_ref.py images --preset $preset --n $((batch * (BATCHES + 1))) --f32 "$T/in.mp" || exit 1
n=$("$PY" -c 'import msgpack, sys; print(sum(r.get("type") == "image" for r in msgpack.Unpacker(open(sys.argv[1], "rb"))))' "$T/in.mp")
[ "$n" = $((batch * (BATCHES + 1))) ] || { echo "profile: testdata has $n images, fewer than $((batch * (BATCHES + 1)))"; exit 2; }
echo "load: $(uptime | sed 's/.*load average/load average/')"
# oneDNN 2.6 writes its verbose lines to stdout, which rnencode points at stderr
ONEDNN_VERBOSE=1 DNNL_VERBOSE=1 "$BIN/rnencode" --device cpu --model "$model" --weights "$w" \
	--batch "$batch" --threads "$THREADS" "$@" <"$T/in.mp" >"$T/out" 2>"$T/err" || { tail -n 3 "$T/err"; exit 1; }
"$VPY" bench/peers/peers.py profile-rn --log "$T/err" "$T/out" || exit 1
"$VPY" bench/peers/peers.py profile-ov --onnx "$ONNX/$model.onnx" --batch "$batch" --threads "$THREADS" --iters "$BATCHES"
