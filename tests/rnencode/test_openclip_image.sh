#!/usr/bin/env bash
# rnencode on open_clip's checkpoints: a state dict in torch.save's zip with
# open_clip's state_dict wrapper and "module." prefix, and a safetensors file
# (tests/py/clip_text_fixtures.py; reduced image towers) give PyTorch's image
# embedding within 1e-4 (model/net.c takes the prefixes off).
source "$ROOT/tests/lib.sh"
source "$ROOT/tests/fixtures.sh"
need_py torch
need_py msgpack
need_text_checkpoints
D=$TEXT_CKPT_DIR
imgdecode --preset clip "$TESTDATA/images/n01440764_tench.JPEG" >img.mp 2>/dev/null || fail "imgdecode"
args=()
for f in openclip-rn50.pt openclip-rn101-quickgelu.safetensors; do
	rnencode --device cpu --weights "$D/$f" <img.mp >"$f.mp" 2>err || { cat err; fail "$f: rnencode failed"; }
	args+=("$D/$f" "$f.mp")
done
PYTHONPATH=$ROOT/tests/py $PY "$ROOT/tests/py/openclip_image_ref.py" img.mp "${args[@]}" >ref.out 2>&1 ||
	{ cat ref.out; fail "rnencode's embeddings differ from PyTorch's"; }
cat ref.out
