#!/usr/bin/env bash
# CLIP's image tower under any root, found as txtencode finds the text tower's (one
# stripper: net_clip_root, the prefix before logit_scale / visual.conv1.weight /
# token_embedding.weight): a PyTorch Lightning checkpoint of a fine-tuned CLIP,
# {"state_dict": {"model." + key}, "optimizer_states": [...]} (root
# "state_dict.model.", which the fixed prefix list before it did not have: "not a
# ResNet of a known family"), gives the same embeddings as the bare file; ckptinfo
# names it; a file holding two CLIP models under two roots is refused naming both.
source "$ROOT/tests/lib.sh"
source "$ROOT/tests/fixtures.sh"
need_py torch
need_family_fixtures
$PY - "$FAM_DIR/clip-small.pt" <<'PYEOF' || fail "making the files"
import sys, torch
sd = torch.jit.load(sys.argv[1], map_location="cpu").state_dict()
torch.save({"epoch": 3, "global_step": 120, "pytorch-lightning_version": "2.1.0",
            "state_dict": {"model." + k: v for k, v in sd.items()},
            "optimizer_states": [{"state": {0: {"step": torch.tensor(120.0)}}, "param_groups": [{"lr": 1e-5, "params": [0]}]}],
            "lr_schedulers": []}, "lightning.ckpt")
torch.save({"a": sd, "b": sd}, "two.pt")
PYEOF
emb() { $PY -c '
import sys, msgpack
print(b"".join(r["tensor"]["data"] for r in msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False)
               if r["type"] == "embedding").hex())' "$1"; }
expect_exit 0 rnencode --device cpu --weights "$FAM_DIR/clip-small.pt" <"$FAM_DIR/clip-small.mp"
bare=$(emb out) && [ ${#bare} = 1536 ] || fail "not 2 embeddings of 96: ${#bare} hex digits"
expect_exit 0 rnencode --device cpu --weights lightning.ckpt <"$FAM_DIR/clip-small.mp"
[ "$(emb out)" = "$bare" ] || fail "another embedding under the root state_dict.model."
expect_exit 0 ckptinfo lightning.ckpt
grep -qxF '# model: clip-resnet(1-1-1-1,w32,288px,out96)' out || fail "ckptinfo: $(grep '^# model' out)"
expect_exit 2 rnencode --device cpu --weights two.pt <"$FAM_DIR/clip-small.mp"
expect_empty_stdout
expect_stderr "CLIP tensors under two prefixes, 'a\\.' and 'b\\.': which is the model\\?"
exit 0
