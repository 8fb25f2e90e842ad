#!/usr/bin/env bash
# tests/gpu/prepare-device.sh - build here what tests/gpu/device-check.sh needs on
# the GPU machine, into the git-ignored folder device-libs/, and print the
# `carry` list for the device tool (see tests/gpu/README.md).
#
# device-libs/
#   bin/rnencode             built here with the CUDA backends (sm_80 + sm_90)
#   bin/txtencode
#   lib/libdnnl.so.2.xz      oneDNN for the CPU backend (the parity reference),
#   lib/libOpenCL.so.1       which the GPU machine lacks, with what it needs
#   lib/libgomp.so.1
#   obj/                     for the fallback rebuild there (device-rebuild.sh):
#                            rnencode.o, txtencode.o (-DHAVE_CUDA=1), model/*.o, libcommon.a,
#                            libmsgpackc.a, libz.a, libcudart_static.a
#   include/                 cuDNN and cuBLAS headers the rebuild compiles against
#   BUILD-INFO               commit, date, tools, the exact link line
#   SOURCES.sha256           the sources the binary was built from: device-check
#                            rebuilds gpu/ there when they changed since
# Exit 1 with a reason when something is missing or the carry exceeds 64 MiB.
set -eu
cd "$(dirname "$0")/../.."
ROOT=$PWD
D=device-libs
die() { echo "prepare-device: $*" >&2; exit 1; }

NVCC=$(command -v nvcc) || die "nvcc not found: the CUDA backend cannot be built here"
CUDA_HOME=${NVCC%/bin/nvcc}
make -s bin/rnencode bin/txtencode || die "make bin/rnencode bin/txtencode failed"
grep -q -a cudnnConvolutionBiasActivationForward bin/rnencode || die "bin/rnencode has no CUDA backend"
grep -q -a cublasGemmEx bin/txtencode || die "bin/txtencode has no CUDA backend"

rm -rf "$D"
mkdir -p "$D/bin" "$D/lib" "$D/obj/model" "$D/include"
cp bin/rnencode bin/txtencode "$D/bin/"

# shared libraries of rnencode that the GPU machine does not have (it has glibc,
# libstdc++, and cuDNN/cuBLAS in its Python venv)
for so in libdnnl.so.2 libOpenCL.so.1 libgomp.so.1; do
	path=$(ldd bin/rnencode bin/txtencode | awk -v so=$so '$1 == so { print $3; exit }')
	[ -n "$path" ] || die "ldd bin/rnencode bin/txtencode does not list $so"
	cp -L "$path" "$D/lib/$so"
done
xz -T2 -6 "$D/lib/libdnnl.so.2" # 40 MB -> 7 MB; device-check unpacks it with python's lzma

# the pieces of a relink there: everything except gpu/, compiled here
CFLAGS_DEV="-std=c11 -O2 -g -Icommon -I. -D_FILE_OFFSET_BITS=64"
cc $CFLAGS_DEV -DHAVE_CUDA=1 -c -o "$D/obj/rnencode.o" cmd/rnencode.c
cc $CFLAGS_DEV -DHAVE_CUDA=1 -c -o "$D/obj/txtencode.o" cmd/txtencode.c
for c in model/*.c; do
	cc $CFLAGS_DEV -c -o "$D/obj/model/$(basename "${c%.c}").o" "$c"
done
cp build/libcommon.a "$D/obj/"
cp "$(cc -print-file-name=libmsgpackc.a)" "$D/obj/libmsgpackc.a"
cp "$(cc -print-file-name=libz.a)" "$D/obj/libz.a"
cp "$CUDA_HOME/lib64/libcudart_static.a" "$D/obj/"
cp "$CUDA_HOME"/include/cudnn*.h "$CUDA_HOME"/include/cublas_api.h "$CUDA_HOME"/include/cublas_v2.h "$D/include/"

sha256sum gpu/* cmd/rnencode.c cmd/txtencode.c model/* common/*/*.c common/*/*.h Makefile >"$D/SOURCES.sha256"
{
	echo "commit: $(git rev-parse HEAD 2>/dev/null || echo unknown)"
	echo "uncommitted: $(git status --short 2>/dev/null | wc -l) paths differ from the commit"
	echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "host: $(uname -srm), $(. /etc/os-release && echo "$PRETTY_NAME")"
	echo "nvcc: $("$NVCC" --version | tail -n 1)"
	echo "cudnn headers: $(awk '/define CUDNN_(MAJOR|MINOR|PATCHLEVEL) /{printf "%s ", $3}' "$CUDA_HOME/include/cudnn_version.h")"
	echo "cc: $(cc --version | head -n 1)"
	echo "link: $(make -n -B bin/rnencode 2>/dev/null | grep -- "-o bin/rnencode" | tail -n 1)"
	echo "link: $(make -n -B bin/txtencode 2>/dev/null | grep -- "-o bin/txtencode" | tail -n 1)"
} >"$D/BUILD-INFO"

# the carry limit counts the working tree that travels too
tree=$(git ls-files -co --exclude-standard -z | xargs -0 du -cb 2>/dev/null | tail -n 1 | cut -f1)
libs=$(du -sb "$D" | cut -f1)
total=$((tree + libs))
cat "$D/BUILD-INFO"
echo
echo "device-libs: $((libs / 1024)) KiB; working tree that travels: $((tree / 1024)) KiB;" \
	"total $((total / 1048576)) MiB of 64"
[ $total -lt $((60 * 1048576)) ] || die "over the transfer limit (keep 4 MiB spare): shrink device-libs or the tree"
echo "carry: [\"$D\"]"
