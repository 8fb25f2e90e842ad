#!/usr/bin/env bash
# open_clip's checkpoint files, each as open_clip writes it (tests/py/clip_text_fixtures.py
# and, made here from its RN50 with Debian's torch, the forms it does not write):
#   openclip-rn50.pt      the training checkpoint's state_dict wrapper, "module." keys
#   train.pt              the same as open_clip's training loop saves it whole: epoch,
#                         name, state_dict ("module." keys), optimizer (AdamW's
#                         state_dict: int-keyed state with step, exp_avg, exp_avg_sq;
#                         param_groups), scaler (GradScaler's state_dict)
#   open_clip_pytorch_model.bin   a bare state dict, torch.save's zip (the Hub's files)
#   openclip-rn101-quickgelu.safetensors
# For each: ckptinfo names the model; rnencode --model auto gives PyTorch's image
# embedding within 1e-4 (model/clip_keys.c takes the prefixes off); txtencode reads its
# text tower, and the RN50 forms give the same class table as the fixture's file.
source "$ROOT/tests/lib.sh"
source "$ROOT/tests/fixtures.sh"
need_py torch
need_py msgpack
need_text_checkpoints
D=$TEXT_CKPT_DIR
$PY - "$D/openclip-rn50.pt" <<'PYEOF' || fail "making open_clip's other forms"
import sys, torch
ck = torch.load(sys.argv[1], map_location="cpu")
sd = {k[len("module."):]: v for k, v in ck["state_dict"].items()}
# optimizer state for the image tower's parameters only: the reader meets the same
# int-keyed dicts and tensors as for all of them, at a tenth of the size
params = [torch.nn.Parameter(v.clone()) for k, v in sd.items() if k.startswith("visual.") and v.is_floating_point()]
opt = torch.optim.AdamW([{"params": params[:8], "weight_decay": 0.0}, {"params": params[8:], "weight_decay": 0.2}])
for p in params:
    p.grad = torch.ones_like(p)
opt.step()
torch.save({"epoch": 32, "name": "rn50-test", "state_dict": ck["state_dict"], "optimizer": opt.state_dict(),
            "scaler": {"scale": 65536.0, "growth_factor": 2.0, "backoff_factor": 0.5, "growth_interval": 2000,
                       "_growth_tracker": 0}}, "train.pt")
torch.save(sd, "open_clip_pytorch_model.bin")
PYEOF
imgdecode --preset clip "$TESTDATA/images/n01440764_tench.JPEG" >img.mp 2>/dev/null || fail "imgdecode"
printf 'tench\ngoldfish\n' >names.txt
echo 'a photo of a {}.' >templates.txt
# the class table's tensor, as hex
table() { $PY -c '
import sys, msgpack
print([r for r in msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False) if r["type"] == "classes"][0]["tensor"]["data"].hex())' "$1"; }
args=()
for f in "$D/openclip-rn50.pt" train.pt open_clip_pytorch_model.bin "$D/openclip-rn101-quickgelu.safetensors"; do
	b=$(basename "$f")
	case $b in *rn101*) want='clip-resnet(1-1-1-1,w8,224px,out512)' model=RN101-quickgelu ;;
	*) want='clip-resnet(1-1-1-1,w8,224px,out1024)' model=RN50 ;;
	esac
	ckptinfo "$f" >info 2>err || { cat err; fail "$b: ckptinfo failed"; }
	grep -qxF "# model: $want" info || fail "$b: ckptinfo's model line: $(grep '^# model' info)"
	rnencode --device cpu --weights "$f" <img.mp >"$b.mp" 2>err || { cat err; fail "$b: rnencode failed"; }
	args+=("$f" "$b.mp")
	txtencode --device cpu -w "$f" --model $model -n names.txt -t templates.txt >"$b.txt.mp" 2>err ||
		{ cat err; fail "$b: txtencode failed"; }
	[ $model = RN50 ] || continue
	t=$(table "$b.txt.mp") || fail "$b: no classes record"
	[ -z "${t50:-}" ] || [ "$t" = "$t50" ] || fail "$b: another class table than openclip-rn50.pt's"
	t50=$t
done
PYTHONPATH=$ROOT/tests/py $PY "$ROOT/tests/py/openclip_image_ref.py" img.mp "${args[@]}" >ref.out 2>&1 ||
	{ cat ref.out; fail "rnencode's embeddings differ from PyTorch's"; }
cat ref.out
