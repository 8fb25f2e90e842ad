#!/usr/bin/env bash
# bench/txtencode-peers.sh - seconds to build CLIP's zero-shot classifier with
# txtencode on the CPU against ONNX Runtime on the same text tower (the fixture
# clip-rn50.pt exported by bench/peers/export.py), same run, same thread count
# (THREADS, default 2: txtencode -j, ONNX Runtime intra_op_num_threads).
#   Prompts: the first NAMES (100) of data/names-clip.txt x the first TEMPLATES (80)
#   of data/templates-clip.txt, tokenized by txtencode --tokenize for both.
#   txtencode: its stats record's encode_seconds (weights loaded; trie of the
#   prompts' token prefixes, encoding, table).
#   ONNX Runtime (bench/peers/peers.py text): the same token ids in batches of 256,
#   each padded to its longest prompt (exact under the causal mask: what a user
#   who trims would run), then the table as CLIP's notebook builds it (normalize,
#   mean per class, normalize); and, for the cost of clip.tokenize's padding to 77
#   (what a plain PyTorch or ONNX export runs), the first NPAD (256) prompts.
#   txtencode --precision bf16 (BF16=1, the default): the same prompts in the same
#   rounds, its time as a ratio to txtencode FP32 and to ONNX Runtime (on the
#   exported FP32 tower); on a CPU without bf16 instructions it is txtencode's
#   emulation (the row names the device), slower than FP32.
#   ROUNDS (2) rounds of txtencode (FP32, BF16) then ONNX Runtime, each one's best.
#   Checked: txtencode's table against ONNX Runtime's, txtencode_ref.py compare's
#   tolerance (1e-4 of max |ref| + 1e-4 relative), and the bf16 table within
#   txtencode_ref.py's bf16 bounds (BF16_RTOL, BF16_COS) but not FP32's; out of
#   tolerance: exit 1.
#   1000 x 80 (80000 prompts, ~10 minutes for txtencode on 2 busy cores) is
#   extrapolated: txtencode by trie rows (its cost is proportional to them),
#   ONNX Runtime trimmed by token positions, padded to 77 by prompts; NAMES=1000
#   measures it instead.
# Environment: THREADS (2), NAMES (100), TEMPLATES (80), NPAD (256), ROUNDS (2), BF16 (1).
set -u
cd "$(dirname "$0")/.." || exit 2
source bench/lib.sh
THREADS=${THREADS:-2}
NAMES=${NAMES:-100}
TEMPLATES=${TEMPLATES:-80}
NPAD=${NPAD:-256}
ROUNDS=${ROUNDS:-2}
bf16=
[ "${BF16:-1}" = 1 ] && bf16=--bf16
[ -x "$BIN/txtencode" ] || { echo "txtencode-peers: $BIN/txtencode not built (make bin/txtencode)"; exit 1; }
peers_ready
case $? in
0) ;;
77) echo "txtencode-peers: skipped (above)"; exit 0 ;;
*) echo "txtencode-peers: cannot set up the peers"; exit 1 ;;
esac
T=$(mktemp -d /tmp/txtencode-peers.XXXXXX)
trap 'rm -rf "$T"' EXIT
head -n "$NAMES" data/names-clip.txt >"$T/names.txt"
head -n "$TEMPLATES" data/templates-clip.txt >"$T/templates.txt"
"$BIN/txtencode" --tokenize -n "$T/names.txt" --templates "$T/templates.txt" >"$T/ids.txt" || exit 1
"$BIN/txtencode" --tokenize >"$T/all.txt" || exit 1
echo "load at start: $(uptime | sed 's/.*load average/load average/')"
"$VPY" bench/peers/peers.py text --ids "$T/ids.txt" --full-ids "$T/all.txt" --templates "$TEMPLATES" \
	--onnx "$ONNX/clip-text.onnx" --threads "$THREADS" --npad "$NPAD" --rounds "$ROUNDS" $bf16 \
	"$BIN/txtencode" -w build/fixtures/clip-rn50.pt -n "$T/names.txt" --templates "$T/templates.txt" -j "$THREADS"
rc=$?
echo "load at end: $(uptime | sed 's/.*load average/load average/')"
exit $rc
