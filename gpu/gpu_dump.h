/* gpu_dump.h - per-op activation dumps: where along the network the CUDA
 * backend first leaves the reference, when a parity test fails on a GPU.
 *
 * RNENC_GPU_DUMP=DIR (rnencode --device cuda; plan_sim the same) writes, for
 * the first image of the first batch, every op's output:
 *   DIR/index.tsv  one line per op: "NNN<TAB>NAME<TAB>H<TAB>W<TAB>C" (op index
 *                  in the plan, the plan's op name, the output's shape)
 *   DIR/NNN.f32    that output, float32 NHWC (H*W*C values; FP16 and BF16
 *                  runs are widened), or the float output [1][1][out] for fc/attnpool
 * tests/py/gpu_ref.py layers compares a dump with PyTorch's own activations.
 * Plain host C++: gpu_encoder.cu and tests/gpu/plan_sim.cc both include it.
 */
#ifndef GPU_DUMP_H
#define GPU_DUMP_H

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

#include <sys/stat.h>

namespace gpu {

/* RNENC_GPU_DUMP, or "" when unset: no dump */
inline std::string dump_dir()
{
	const char *d = getenv("RNENC_GPU_DUMP");
	return d ? d : "";
}

/* Create DIR (one level) and empty its index. */
inline void dump_begin(const std::string &dir)
{
	if (mkdir(dir.c_str(), 0777) != 0 && errno != EEXIST)
		throw std::runtime_error("RNENC_GPU_DUMP " + dir + ": " + strerror(errno));
	FILE *f = fopen((dir + "/index.tsv").c_str(), "w");
	if (!f || fclose(f) != 0)
		throw std::runtime_error("RNENC_GPU_DUMP " + dir + "/index.tsv: " + strerror(errno));
}

/* Op `op`'s output, v [h][w][c] float32. */
inline void dump_write(const std::string &dir, int op, const std::string &name, int h, int w, int c, const float *v)
{
	char base[16];
	snprintf(base, sizeof base, "%03d", op);
	std::string path = dir + "/" + base + ".f32";
	FILE *f = fopen(path.c_str(), "wb");
	size_t n = (size_t)h * w * c;
	bool ok = f && fwrite(v, sizeof *v, n, f) == n;
	if (f && fclose(f) != 0)
		ok = false;
	FILE *ix = ok ? fopen((dir + "/index.tsv").c_str(), "a") : nullptr;
	ok = ix && fprintf(ix, "%s\t%s\t%d\t%d\t%d\n", base, name.c_str(), h, w, c) > 0;
	if (ix && fclose(ix) != 0)
		ok = false;
	if (!ok)
		throw std::runtime_error("RNENC_GPU_DUMP " + path + ": " + strerror(errno));
}

} // namespace gpu

#endif
