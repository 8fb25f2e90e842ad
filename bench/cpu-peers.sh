#!/usr/bin/env bash
# bench/cpu-peers.sh - rnencode on the CPU against the engines users pick there for
# speed: ONNX Runtime (FP32) and OpenVINO (FP32, and BF16 through
# INFERENCE_PRECISION_HINT bf16 where the CPU has it), same run, same machine, same
# thread count (THREADS, default 2: rnencode --threads, ONNX Runtime
# intra_op_num_threads, OpenVINO INFERENCE_NUM_THREADS), both models, batch 1, 8, 32.
#   Peers: build/bench-venv (bench/peers/setup: pinned onnxruntime, openvino, onnx
#   from PyPI; skipped when it cannot be made), running the random-weight fixtures
#   (tests/py/make_checkpoints.py) exported to ONNX by bench/peers/peers.py export
#   (dynamic batch; OpenVINO compiles each batch size as a static shape, its fastest
#   path; each engine with its own default thread wait: rnencode OMP_WAIT_POLICY
#   PASSIVE, the others spinning; and rnencode once more with OMP_WAIT_POLICY=ACTIVE,
#   its --help's setting for cores nothing else uses, as rnencode-active-fp32).
#   Inputs: the same float32 normalized crops for all (testdata JPEGs cropped by
#   tests/py/rnencode_ref.py, repeated to fill the batches).
#   Rounds: ROUNDS (3) rounds of every engine in turn, A B C D A B C D ..., so that a
#   change of the machine's load hits all of them; in each round an engine runs one
#   untimed batch then enough timed batches for about 16 images (at least 2).
#   rnencode runs once per round as a process, its figure the stats record's
#   batch_min_s (encoder time of the fastest batch, input conversion included);
#   the others are timed around their run call in bench/peers/peers.py.
#   Figure: best of all timed batches (other work only ever slows a batch down, and
#   the interleaving keeps the engines' best comparable); the median of the
#   rounds' bests is printed beside it, to show the noise.
#   Check: each engine's outputs on every image against rnencode FP32's, as
#   rnencode_ref.py compare measures (|out - ref| / (|ref| + rms of the row));
#   FP32 within 1e-4, FP16 3e-2, BF16 0.24, INT8 1.6 (test_int8.sh's bound: the
#   random-weight networks amplify quantization); max |diff| and top-1 agreement shown
#   (CLIP: argmax of cosine with 1000 fixed random class vectors). Out of
#   tolerance: exit 1.
# Environment: THREADS (2), ROUNDS (3), MODELS ("resnet50 clip-rn50"),
# BATCHES ("1 8 32"), ENGINES (default: rnencode-fp32, rnencode-active-fp32, then
# every other --precision its --help lists - rnencode-fp16, rnencode-bf16 and
# rnencode-int8 today - then ort-fp32 ov-fp32 ov-bf16; rnencode-fp32 first, it is
# the reference).
# rnencode-int8 calibrates once per model on the first batch size's crops
# (--save-calibration into the run's temporary folder) and every timed run loads
# that file (--calibration), so no timed run calibrates.
# Table: each peer as a ratio to rnencode FP32 of the same round set, rnencode FP32
# with the active wait as a ratio to the faster FP32 peer, rnencode BF16
# beside its FP32 and OpenVINO's BF16 ("emulated" where rnencode said the CPU has no
# bf16 instructions: then the BF16 goals are not measured), rnencode --fp16 beside
# its FP32, rnencode INT8 beside its FP32 (issue 23's 2.5x at batch 8 is a VNNI
# machine's goal: the line says whether this CPU has VNNI); the goals (issue 23)
# met, missed or not measured.
set -u
cd "$(dirname "$0")/.." || exit 2
source bench/lib.sh
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-3}
MODELS=${MODELS:-resnet50 clip-rn50}
BATCHES=${BATCHES:-1 8 32}
ENGINES=${ENGINES:-}
[ -x "$BIN/rnencode" ] || { echo "cpu-peers: $BIN/rnencode not built (make bin/rnencode)"; exit 1; }
peers_ready
case $? in
0) ;;
77) echo "cpu-peers: skipped (above)"; exit 0 ;;
*) echo "cpu-peers: cannot set up the peers"; exit 1 ;;
esac
T=$(mktemp -d /tmp/cpu-peers.XXXXXX)
trap 'rm -rf "$T"' EXIT
echo "threads $THREADS, $ROUNDS rounds; $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //');" \
	"AVX-512: $(grep -q avx512f /proc/cpuinfo && echo yes || echo no)," \
	"avx512_bf16: $(grep -q avx512_bf16 /proc/cpuinfo && echo yes || echo no)"
echo "load at start: $(uptime | sed 's/.*load average/load average/')"
status=0
jsons=()
for model in $MODELS; do
	case $model in
	resnet50) w=build/fixtures/resnet50.pth ;;
	clip-rn50) w=build/fixtures/clip-rn50.pt ;;
	*) echo "cpu-peers: unknown model $model"; exit 1 ;;
	esac
	# shellcheck disable=SC2086 # word lists
	"$VPY" bench/peers/peers.py vision --model $model --weights "$w" --onnx "$ONNX/$model.onnx" \
		--rnencode "$BIN/rnencode" --threads "$THREADS" --rounds "$ROUNDS" --batches $BATCHES \
		${ENGINES:+--engines $ENGINES} --json "$T/$model.json" | sed -u "s/^/$model: /"
	rc=${PIPESTATUS[0]}
	[ "$rc" = 0 ] || status=1
	[ -s "$T/$model.json" ] && jsons+=("$T/$model.json")
done
echo "load at end: $(uptime | sed 's/.*load average/load average/')"
echo
[ ${#jsons[@]} -gt 0 ] && "$VPY" bench/peers/peers.py table "${jsons[@]}"
[ $status = 0 ] || echo "cpu-peers: some outputs out of tolerance (above)"
exit $status
