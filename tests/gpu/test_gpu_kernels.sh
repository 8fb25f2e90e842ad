#!/usr/bin/env bash
# test_gpu_kernels.sh - the CUDA backends' own kernels, run on the host.
#
# gpu/gpu_kernels.cu (rnencode) and gpu/gpu_text_kernels.cu (txtencode) are
# compiled by g++ with tests/gpu/cuda_emu.h, which runs each CUDA thread as a
# coroutine (barriers and warp shuffles as written, launch limits as the
# runtime's, a fault past a buffer's end named), their launches rewritten by
# tests/gpu/emu_launch.sed. tests/gpu/kernel_emu.cc calls every launcher on
# both models' shapes and odd ones, FP32, FP16 and BF16, against loops in double.
# So without a GPU this checks the kernels' indexing, launch arithmetic,
# shared memory and warp logic, the part test_gpu_plan.sh's simulator
# replaces; and that the emulator catches a broken kernel (a partial-warp
# shuffle, a missing __syncthreads, a write past the end).
source "$ROOT/tests/lib.sh"
source "$ROOT/tests/gpu/gpulib.sh"
need_emu
F=("${EMU_FLAGS[@]}")
for k in gpu_kernels gpu_text_kernels; do
	emu_source $k $k.cc
	g++ "${F[@]}" -c -o $k.o $k.cc || fail "gpu/$k.cu does not compile for the host emulator"
done
g++ "${F[@]}" -c -o kernel_emu.o "$ROOT/tests/gpu/kernel_emu.cc" &&
	g++ -o kernel_emu kernel_emu.o gpu_kernels.o gpu_text_kernels.o || fail "kernel_emu does not build"
./kernel_emu >emu.out 2>&1
rc=$?
cat emu.out
[ $rc = 0 ] || fail "kernel_emu: $(grep -c '^FAIL' emu.out) checks failed"
grep -q '^136 checks, 0 failed' emu.out || fail "kernel_emu ran $(tail -n 1 emu.out)"

# the emulator must fail a broken kernel: each a one-line change to k_attn or k_bias_out
broken() { # WHAT SED-EXPR STDERR-REGEX
	emu_source gpu_kernels gpu_kernels.cc "$2"
	g++ "${F[@]}" -Wno-error -c -o bad.o gpu_kernels.cc && g++ -o bad kernel_emu.o bad.o gpu_text_kernels.o ||
		fail "$1: does not build"
	./bad >bad.out 2>&1 && fail "$1: kernel_emu passed"
	grep -Eq -- "$3" bad.out || { cat bad.out; fail "$1: not caught as expected"; }
	echo "caught: $1: $(grep -E -- "$3" bad.out | head -n 1)"
}
grep -q 'for (int off = hd / 2; off > 0; off >>= 1) {' "$ROOT/gpu/gpu_kernels.cu" && grep -q 'out\[i\] = ldf(&v);' "$ROOT/gpu/gpu_kernels.cu" ||
	fail "the lines the broken-kernel checks change are gone from gpu/gpu_kernels.cu: update this test"
broken "a barrier half the threads skip" '0,/for (int off = hd \/ 2; off > 0;/s//for (int off = hd \/ 2; off > d % 2;/' \
	'^cuda_emu: k_attn<T>, block \(0,0,0\).*__syncthreads'
broken "the first __syncthreads missing" '0,/__syncthreads();/s/__syncthreads();//' \
	'^FAIL attn 2 images, 50 tokens, 32 heads fp32 .* beyond tolerance'
broken "a write one past the end" 's/out\[i\] = ldf(&v);/out[i] = ldf(\&v); if (i == total - 1) out[i + 1] = 0;/' \
	'^cuda_emu: k_bias_out<T>, block \([0-9]+,0,0\), thread \([0-9]+,0,0\): SIGSEGV'
exit 0
