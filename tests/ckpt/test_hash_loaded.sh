#!/usr/bin/env bash
# The weights' sha256 in a header (rnencode; txtencode, through the same
# ckpt_sha256, is left out: 3 s more) and ckptinfo's is of
# the bytes loaded: it was of a second read of the file, so a checkpoint
# replaced between the load and the hash (cp NEW OLD during a run) gave a
# header naming weights that computed nothing of the output. Here a
# preloaded open() gives the second open of w.pth another file, as such a
# replacement would: the hash must still be that of the file loaded.
source "$ROOT/tests/lib.sh"
source "$ROOT/tests/fixtures.sh"
need_py msgpack
need_checkpoints
command -v cc >/dev/null || skip "no C compiler for the open() shim"
cat >swap.c <<'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
/* the first open of a path ending in w.pth opens it; later ones open other.pth */
static int seen;
static const char *pick(const char *p)
{
	size_t n = strlen(p);
	if (n < 5 || strcmp(p + n - 5, "w.pth") != 0)
		return p;
	return seen++ ? "other.pth" : p;
}
#define SHIM(name, ...)                                                                \
	int name(const char *p, int flags, ...)                                        \
	{                                                                              \
		va_list ap;                                                            \
		va_start(ap, flags);                                                   \
		mode_t m = (mode_t)va_arg(ap, int);                                    \
		va_end(ap);                                                            \
		int (*real)(const char *, int, ...) = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, #name); \
		return real(pick(p), flags, m);                                        \
	}
SHIM(open)
SHIM(open64)
EOF
cc -shared -fPIC -o swap.so swap.c -ldl 2>cc.err || skip "cannot build the open() shim: $(head -1 cc.err)"
echo "not these weights" >other.pth
# under make asan, ASan's runtime must come first: it is told the shim is expected
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0
hash() { sha256sum "$1" | cut -c1-64; }

cp "$CKPT_DIR/mixed.pth" w.pth
LD_PRELOAD=$PWD/swap.so ckptinfo w.pth >out 2>err || fail "ckptinfo: $(cat err)"
grep -qx "# sha256: $(hash w.pth)" out || fail "ckptinfo: $(grep sha256 out), the file listed is $(hash w.pth)"

cp "$CKPT_DIR/resnet50.pth" w.pth
imgdecode --preset imagenet "$TESTDATA/images/n01440764_tench.JPEG" >one.mp 2>/dev/null || fail "imgdecode"
LD_PRELOAD=$PWD/swap.so rnencode --threads 1 --weights w.pth <one.mp >out 2>err || fail "rnencode: $(cat err)"
recview -t header out | grep -q "\"weights_sha256\":\"$(hash w.pth)\"" ||
	fail "rnencode: $(recview -t header out | grep -o '"weights_sha256":"[0-9a-f]*"'), the weights loaded are $(hash w.pth)"
