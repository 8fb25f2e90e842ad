#!/usr/bin/env bash
# test_gpu_build.sh - the CUDA backends compile with warnings as errors wherever
# nvcc exists, are linked into rnencode and txtencode (cuDNN into rnencode
# only, and only where cudnn.h is found), and on a machine
# without a GPU `--device cuda` fails with exit 2 and one clear stderr line
# while the default device falls back to the CPU with a note.
source "$ROOT/tests/lib.sh"
source "$ROOT/tests/gpu/gpulib.sh"
command -v nvcc >/dev/null || skip "nvcc not found: the CUDA backend is not built on this machine"
[ "${ASAN:-0}" != 1 ] || skip "make asan builds without nvcc (NVCC=): make test checks the CUDA build"

# every CUDA source's compile rule carries -Werror for host and device code
cd "$ROOT"
n=0
for src in gpu/*.cu gpu/*.cc; do
	obj=build/${src%.*}.o
	make -n -B "$obj" 2>&1 | grep -- "-o $obj" >"$T/rule" || fail "no make rule for $obj"
	grep -q -- '-Werror all-warnings' "$T/rule" && grep -q -- '-Xcompiler [^ ]*-Werror' "$T/rule" ||
		fail "$obj is not compiled with warnings as errors: $(cat "$T/rule")"
	n=$((n + 1))
done
[ $n -ge 5 ] || fail "only $n CUDA sources found in gpu/"
# up to date after `make`, else rebuilt here (a warning fails the build)
for p in rnencode txtencode; do
	make -q "$BIN/$p" 2>/dev/null || make -s "$BIN/$p" >"$T/make.log" 2>&1 ||
		{ cat "$T/make.log"; fail "$BIN/$p does not build with the CUDA backend"; }
done
# only rnencode needs cuDNN: txtencode's cuBLAS backend starts without it, and
# a machine with nvcc but no cudnn.h builds rnencode for the CPU with a note
readelf -d "$BIN/txtencode" | grep -q 'NEEDED.*libcublas' || fail "$BIN/txtencode does not link cuBLAS"
! readelf -d "$BIN/txtencode" | grep -q 'NEEDED.*libcudnn' || fail "$BIN/txtencode links cuDNN: $(readelf -d "$BIN/txtencode" | grep NEEDED)"
make -n -B BIN=bin bin/rnencode CUDNN_H= 2>&1 | grep -- '-o bin/rnencode ' >"$T/rule" || fail "no link rule for bin/rnencode"
! grep -q -- '-lcudnn\|build/gpu/\|HAVE_CUDA' "$T/rule" || fail "CUDNN_H= still links the image backend: $(cat "$T/rule")"
make -s gpu-note CUDNN_H= | grep -q '^make: cudnn.h not found .*building rnencode without its CUDA backend$' ||
	fail "no note when cudnn.h is missing: $(make -s gpu-note CUDNN_H=)"
make -n -B BIN=bin bin/txtencode CUDNN_H= 2>&1 | grep -- '-o bin/txtencode ' | grep -q 'gpu_text.o.*-lcublas' ||
	fail "txtencode's cuBLAS backend needs cuDNN's header"
cd "$T"
[ "$(command -v rnencode)" = "$BIN/rnencode" ] || fail "rnencode is not \$BIN/rnencode"
rnencode_has_cuda || fail "bin/rnencode was built without the CUDA backend although nvcc is here"
txtencode_has_cuda || fail "bin/txtencode was built without the CUDA backend although nvcc is here"

if nvidia-smi -L >/dev/null 2>&1; then
	echo "a GPU is present: the no-GPU behaviour is checked on machines without one"
	exit 0
fi
gpu_weights
$PY "$GPU_PY" images --preset imagenet --n 1 --records one.mp || fail "gpu_ref.py images"
expect_exit 2 rnencode --device cuda --model resnet50 --weights "$RN50_W" <one.mp
expect_empty_stdout
[ "$(wc -l <err)" = 1 ] || { cat err; fail "expected exactly one stderr line"; }
expect_stderr '^rnencode: --device cuda: (no NVIDIA driver|no usable CUDA device|no CUDA device)'

# auto: a note, then the CPU encodes the image anyway
expect_exit 0 rnencode --model resnet50 --weights "$RN50_W" <one.mp
expect_stderr 'no usable GPU'
$PY - out <<'EOF' || fail "auto device did not produce one logits record"
import sys, msgpack
recs = list(msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False))
n = sum(1 for r in recs if r.get("type") == "logits")
sys.exit(0 if n == 1 else 1)
EOF

# txtencode the same way
source "$ROOT/tests/fixtures.sh"
need_checkpoints
printf 'cat\n' >names.txt
printf 'a photo of a {}.\n' >templates.txt
expect_exit 2 txtencode --device cuda -w "$CKPT_DIR/clip-rn50.pt" -n names.txt --templates templates.txt
expect_empty_stdout
[ "$(wc -l <err)" = 1 ] || { cat err; fail "expected exactly one stderr line"; }
expect_stderr '^txtencode: --device cuda: (no NVIDIA driver|no usable CUDA device|no CUDA device)'
expect_exit 0 txtencode -w "$CKPT_DIR/clip-rn50.pt" -n names.txt --templates templates.txt
expect_stderr '^txtencode: no usable GPU \(.*\): using the CPU$'
$PY - out <<'EOF' || fail "auto device did not produce the table on the CPU"
import sys, msgpack
recs = list(msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False))
assert [r["type"] for r in recs] == ["header", "classes", "stats"], recs
assert recs[0]["device"].startswith("cpu: ") and recs[2]["device"].startswith("cpu: "), recs[0]
EOF
exit 0
