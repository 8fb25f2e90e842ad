# tests/fixtures.sh - shared checkpoint fixtures for the shell tests (source it after lib.sh).
#
#   source "$ROOT/tests/fixtures.sh"
#   need_checkpoints            # sets CKPT_DIR, or skips the test (exit 77) with a reason
#   rnencode --model resnet50 --weights "$CKPT_DIR/resnet50.pth" ...
#
# CKPT_DIR=$ROOT/build/fixtures holds what tests/py/make_checkpoints.py writes
# (resnet50.pth, resnet50-legacy.pth, resnet50.safetensors, clip-rn50.pt, mixed.*,
# checksums.json). The files are made once (about 30 s) and remade when missing or
# older than the scripts that make them; flock keeps concurrent tests from racing.
need_checkpoints() {
	CKPT_DIR=$ROOT/build/fixtures
	export CKPT_DIR
	local py=${PY:-/usr/bin/python3}
	local stamp=$CKPT_DIR/checksums.json
	local src
	if [ -s "$stamp" ]; then
		local stale=0
		for src in "$ROOT/tests/py/make_checkpoints.py" "$ROOT/tests/py/clip_model.py"; do
			[ "$src" -nt "$stamp" ] && stale=1
		done
		[ $stale = 0 ] && return 0
	fi
	"$py" -c 'import torch, torchvision' 2>/dev/null ||
		skip "checkpoint fixtures need torch and torchvision for $py"
	command -v flock >/dev/null || skip "checkpoint fixtures need flock (util-linux)"
	mkdir -p "$CKPT_DIR" || fail "cannot create $CKPT_DIR"
	(
		flock 9 || exit 1
		# another test may have made them while we waited for the lock
		if [ -s "$stamp" ]; then
			local fresh=1
			for src in "$ROOT/tests/py/make_checkpoints.py" "$ROOT/tests/py/clip_model.py"; do
				[ "$src" -nt "$stamp" ] && fresh=0
			done
			[ $fresh = 1 ] && exit 0
		fi
		rm -f "$stamp"
		"$py" "$ROOT/tests/py/make_checkpoints.py" "$CKPT_DIR" >&2
	) 9>"$CKPT_DIR/.lock" || fail "tests/py/make_checkpoints.py failed"
	[ -s "$stamp" ] || fail "checkpoint fixtures missing after make_checkpoints.py"
}

# need_family_fixtures: FAM_DIR=$ROOT/build/fixtures/family with, per reduced
# variant (tests/py/resnets.py: tv-basic, tv-grouped, clip-small), the checkpoint
# in its published format, 2 image records at its input size (.mp and raw .u8)
# and PyTorch's FP32 outputs (.npy). Made once (about 20 s), remade when
# resnets.py or the scripts it uses are newer.
FAMILY_SPECS="tv-basic tv-grouped clip-small"
need_family_fixtures() {
	FAM_DIR=$ROOT/build/fixtures/family
	export FAM_DIR
	local py=${PY:-/usr/bin/python3} src stale=0
	for src in "$ROOT/tests/py/resnets.py" "$ROOT/tests/py/make_checkpoints.py" "$ROOT/tests/py/clip_model.py"; do
		[ "$src" -nt "$FAM_DIR/done" ] && stale=1
	done
	[ $stale = 0 ] && return 0
	"$py" -c 'import torch, torchvision' 2>/dev/null || skip "family fixtures need torch and torchvision for $py"
	command -v flock >/dev/null || skip "family fixtures need flock (util-linux)"
	mkdir -p "$FAM_DIR" || fail "cannot create $FAM_DIR"
	(
		flock 9 || exit 1
		for src in "$ROOT/tests/py/resnets.py" "$ROOT/tests/py/make_checkpoints.py" "$ROOT/tests/py/clip_model.py"; do
			[ "$src" -nt "$FAM_DIR/done" ] && stale=2
		done
		[ $stale = 2 ] || exit 0
		rm -f "$FAM_DIR/done"
		"$py" "$ROOT/tests/py/resnets.py" fixtures "$FAM_DIR" 2 $FAMILY_SPECS >&2
	) 9>"$FAM_DIR/.lock" || fail "tests/py/resnets.py fixtures failed"
}

# need_text_checkpoints: sets TEXT_CKPT_DIR=$ROOT/build/fixtures/text, where
# tests/py/clip_text_fixtures.py writes random-weight CLIP text towers of every
# ResNet width in the published formats (about 1 GB, made once, remade when
# missing or older than the scripts that make them), or skips the test.
need_text_checkpoints() {
	TEXT_CKPT_DIR=$ROOT/build/fixtures/text
	export TEXT_CKPT_DIR
	local py=${PY:-/usr/bin/python3}
	local stamp=$TEXT_CKPT_DIR/done
	local srcs=("$ROOT/tests/py/clip_text_fixtures.py" "$ROOT/tests/py/clip_model.py" "$ROOT/tests/py/make_checkpoints.py")
	local src
	_text_fixtures_fresh() {
		[ -s "$stamp" ] || return 1
		for src in "${srcs[@]}"; do [ "$src" -nt "$stamp" ] && return 1; done
		return 0
	}
	_text_fixtures_fresh && return 0
	"$py" -c 'import torch' 2>/dev/null || skip "text tower fixtures need torch for $py"
	command -v flock >/dev/null || skip "text tower fixtures need flock (util-linux)"
	mkdir -p "$TEXT_CKPT_DIR" || fail "cannot create $TEXT_CKPT_DIR"
	(
		flock 9 || exit 1
		_text_fixtures_fresh && exit 0 # another test made them while we waited
		rm -f "$stamp"
		"$py" "$ROOT/tests/py/clip_text_fixtures.py" "$TEXT_CKPT_DIR" >&2
	) 9>"$TEXT_CKPT_DIR/.lock" || fail "tests/py/clip_text_fixtures.py failed"
	[ -s "$stamp" ] || fail "text tower fixtures missing after clip_text_fixtures.py"
}
