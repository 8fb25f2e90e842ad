#!/usr/bin/env bash
# tests/gpu/device-rebuild.sh OUTDIR - on the GPU machine: compile gpu/ with the
# machine's own nvcc (sm_90 only: quick) and relink rnencode and txtencode from
# the objects prepare-device.sh carried in device-libs/obj. Used by device-check.sh when
# the carried binary does not load or gpu/ changed after it was built.
# Needs: nvcc, a C/C++ host compiler, CUDNN_LIB and CUBLAS_LIB (the venv's
# nvidia-cudnn / nvidia-cublas lib folders) in the environment.
# Writes OUTDIR/rnencode and OUTDIR/txtencode; exit 1 with the compiler's complaint on failure.
set -eu
cd "$(dirname "$0")/../.."
D=$PWD/device-libs
OUTDIR=$1
mkdir -p "$OUTDIR/gpu"
: "${CUDNN_LIB:?}" "${CUBLAS_LIB:?}"
flags=(-O3 -std=c++17 -gencode arch=compute_90,code=sm_90 -Xcompiler -Wall,-Wextra -I. -Icommon -Igpu -I"$D/include")
pids=()
for src in gpu/*.cu gpu/*.cc; do
	obj=$OUTDIR/gpu/$(basename "${src%.*}").o
	nvcc "${flags[@]}" -c -o "$obj" "$src" &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || { echo "device-rebuild: nvcc failed"; exit 1; }; done
G=$OUTDIR/gpu
link() { # OUT MAIN.o GPU-OBJECTS...; $EXTRA: libraries after libcommon.a
	local out=$1 main=$2
	shift 2
	cc -o "$out" "$main" "$D"/obj/model/*.o "$@" "$D/obj/libcommon.a" ${EXTRA:-} \
		-L"$D/lib" -l:libdnnl.so.2 -Wl,-rpath-link,"$D/lib" \
		-L"$CUBLAS_LIB" -l:libcublas.so.13 -Wl,-rpath-link,"$CUBLAS_LIB" \
		"$D/obj/libcudart_static.a" -ldl -lrt -lstdc++ "$D/obj/libmsgpackc.a" -lm -lpthread
}
# only rnencode links cuDNN (as the Makefile does)
EXTRA="-L$CUDNN_LIB -l:libcudnn.so.9" link "$OUTDIR/rnencode" "$D/obj/rnencode.o" $(ls "$G"/*.o | grep -v /gpu_text)
EXTRA="$D/obj/libz.a" link "$OUTDIR/txtencode" "$D/obj/txtencode.o" "$G/gpu_text.o" "$G/gpu_text_kernels.o" "$G/gpu_check.o"
echo "device-rebuild: $OUTDIR/rnencode $OUTDIR/txtencode"
