#!/usr/bin/env bash
# Batch-size independence (FP32): 5 images through --batch 1, 2 (2+2+1, the last
# batch gets primitives of its own size), 8 (one partial batch) and the default;
# every logit within 1e-5 relative (|a-b| <= 1e-5 (|b| + rms)) of batch 1's.
# oneDNN picks kernels per batch size, so summation order, and the last bits, may
# differ. Also: the stats record's figures and the threads setting, and records
# passed through between images do not cut a batch short.
source "$ROOT/tests/lib.sh"
source "$ROOT/tests/fixtures.sh"
need_py torch
need_checkpoints
REF="$PY $ROOT/tests/py/rnencode_ref.py"
W=$CKPT_DIR/resnet50.pth

$REF images --preset imagenet --n 5 --u8 in.mp || fail "making image records"
expect_exit 0 rnencode --weights "$W" --batch 1 --threads 1 <in.mp
recview -t header --first 1 out | grep -q '"threads":1,"batch":1' || fail "header: $(recview -t header --first 1 out)"
recview -t stats out | grep -q '"threads":1,"batch":1,"images":5,"failed":0,"batches":5,' ||
	fail "stats: $(recview -t stats out)"
$PY - out <<'PY' || fail "batch 1 stats figures"
import sys, msgpack
st = [r for r in msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False) if r["type"] == "stats"][0]
assert st["timed_batches"] == 4, st
assert 0 < st["batch_mean_s"] < st["seconds"] and st["batch_std_s"] >= 0, st
assert abs(st["image_mean_s"] - st["batch_mean_s"]) < 1e-12, st   # one image per batch
assert st["peak_memory_bytes"] >= st["weight_bytes"] + st["activation_bytes"] > 25.5e6 * 4, st   # 25.5M parameters
assert st["peak_rss_bytes"] >= st["peak_memory_bytes"], st
assert st["images_per_s"] > 0 and st["device"].startswith("cpu: "), st
PY
$PY -c '
import sys, numpy as np, msgpack
rs = [r for r in msgpack.Unpacker(open("out", "rb"), raw=False) if r["type"] == "logits"]
np.save("b1.npy", np.stack([np.frombuffer(r["tensor"]["data"], "float32") for r in rs]))'
for b in 2 8 ""; do
	expect_exit 0 rnencode --weights "$W" ${b:+--batch $b} --threads 2 <in.mp
	$REF compare --rtol 1e-5 b1.npy out || fail "--batch ${b:-default} differs from --batch 1"
done
recview -t stats out | grep -q '"threads":2,"batch":8,"images":5,"failed":0,"batches":1,' ||
	fail "default batch stats: $(recview -t stats out)"
# a header first and an error record amid the images (every imgdecode stream with a
# failure): still one batch of 6, the records in order
set -- "$TESTDATA"/images/*.JPEG
imgdecode --preset imagenet "$1" "$2" "$3" /nonexistent.JPEG "$4" "$5" "$6" >six.mp 2>/dev/null
expect_exit 0 rnencode --weights "$W" --batch 8 --threads 2 <six.mp
recview -t stats out | grep -q '"batch":8,"images":6,"failed":0,"batches":1,' || fail "six images, one error: $(recview -t stats out)"
[ "$(recview out | sed -E 's/^\{"type":"([a-z]+)".*/\1/' | tr '\n' ' ')" = "header header logits logits logits error logits logits logits stats stats " ] ||
	fail "six images, one error: order: $(recview --count out)"
exit 0
