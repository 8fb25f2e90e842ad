#!/usr/bin/env bash
# Every ResNet code path rnencode has, against PyTorch and the reference forward
# (model/ref.c through build/tests/netref), on reduced variants of the families in
# their published formats (tests/py/resnets.py; full-size models: make parity-all):
#   tv-basic    torchvision BasicBlock (resnet18/34's path), torch.save .pth
#   tv-grouped  torchvision Bottleneck with 32 groups (the ResNeXt path: 4, 8, 16 and
#               32 channels a group, as resnext50_32x4d), .pth
#   clip-small  CLIP ModifiedResNet, TorchScript archive with fp16 weights as
#               published, 288 px (RN50x4's resolution: 82 attention tokens)
# The architecture comes from the file alone (--model auto). FP32 within 1e-4 of
# PyTorch for rnencode and for the reference forward; FP16 within 3e-2 of PyTorch
# FP32 (test_parity_resnet50.sh gives the reasons; measured here 4.5e-3, 7.1e-3 and
# 1.1e-2) and the same top-1 class as PyTorch FP32 on every image (logits: argmax;
# clip-small's embedding: cosine with 1000 fixed random class vectors). The top-1
# check means something because the references' top-1 margins are several times
# FP16's measured score changes: 0.275 and 0.434 against 0.036 and 0.043 (logits),
# 0.0076 against 0.0018 (cosines), so a flip needs at least 2x FP16's error.
source "$ROOT/tests/lib.sh"
source "$ROOT/tests/fixtures.sh"
need_py torch
need_family_fixtures
NETREF=${UNITDIR:-build/tests}/netref
[[ $NETREF = /* ]] || NETREF=$ROOT/$NETREF
[ -x "$NETREF" ] || skip "$NETREF missing: run make first"
cmp_ref() { # NAME RTOL REF.npy OUT [--top1]
	$PY "$ROOT/tests/py/resnets.py" compare --name "$1" --rtol "$2" ${5:-} "$3" "$4" ||
		fail "$1: beyond $2 of PyTorch${5:+ or another top-1}"
}

for s in $FAMILY_SPECS; do
	w=$FAM_DIR/$s.pth
	[ -e "$w" ] || w=$FAM_DIR/$s.pt
	expect_exit 0 rnencode --weights "$w" --threads 2 --batch 2 <"$FAM_DIR/$s.mp"
	cmp_ref "$s rnencode fp32" 1e-4 "$FAM_DIR/$s.npy" out
	"$NETREF" "$w" "$FAM_DIR/$s.mp" ref.f32 || fail "netref $s"
	cmp_ref "$s reference forward" 1e-4 "$FAM_DIR/$s.npy" ref.f32
	expect_exit 0 rnencode --weights "$w" --threads 2 --fp16 <"$FAM_DIR/$s.mp"
	cmp_ref "$s rnencode fp16" 3e-2 "$FAM_DIR/$s.npy" out --top1
done
# No convolution falls back to oneDNN's reference code: with 4 channels a group it
# did (20x slower than PyTorch on resnext50_32x4d) until rnencode merged the groups
# (model/cpu_dnnl.c, add_conv). ONEDNN_VERBOSE prints one line per primitive run,
# on what was stdout: rnencode points that at stderr and keeps stdout for records.
ONEDNN_VERBOSE=1 rnencode --weights "$FAM_DIR/tv-grouped.pth" --threads 2 --batch 2 \
	<"$FAM_DIR/tv-grouped.mp" >out 2>verbose || fail "rnencode under ONEDNN_VERBOSE=1"
[ "$(recview -t logits out | wc -l)" = 2 ] || fail "ONEDNN_VERBOSE=1: stdout is not 2 logits records: $(head -c 300 out)"
n=$(grep -ac '^onednn_verbose,exec,cpu,convolution,' verbose)
[ "$n" -ge 10 ] || fail "ONEDNN_VERBOSE: $n convolution lines (want the network's): $(grep -a -m3 verbose verbose)"
! grep -a '^onednn_verbose,exec,cpu,convolution,ref' verbose ||
	fail "a convolution runs oneDNN's reference code (above)"
# with stderr closed those lines go nowhere, and the records still out whole
ONEDNN_VERBOSE=1 rnencode --weights "$FAM_DIR/tv-grouped.pth" --threads 2 --batch 2 \
	<"$FAM_DIR/tv-grouped.mp" >out 2>&- || fail "rnencode with stderr closed"
[ "$(recview -t logits out | wc -l)" = 2 ] || fail "stderr closed: stdout is not 2 logits records: $(head -c 300 out)"
# the header and records name what the file holds
expect_exit 0 rnencode --weights "$FAM_DIR/clip-small.pt" <"$FAM_DIR/clip-small.mp"
recview -t header out | grep -q '"model":"clip-resnet(1-1-1-1,w32,288px,out96)"' || fail "header: $(recview -t header out)"
recview -t embedding -n 1 out | grep -q '"preset":"clip-288".*"tensor":{"dtype":"float32","shape":\[96\]' ||
	fail "record: $(recview -t embedding -n 1 out | head -c 400)"
# a 224 px crop for a 288 px model is the image's error, not a crash
imgdecode --preset clip "$TESTDATA/images/n01440764_tench.JPEG" >c224.mp 2>/dev/null
expect_exit 1 rnencode --weights "$FAM_DIR/clip-small.pt" <c224.mp
expect_stderr 'needs uint8 \[288,288,3\]'
exit 0
