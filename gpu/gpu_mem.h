/* gpu_mem.h - device memory of the CUDA backends (rnencode's gpu_encoder.cu,
 * txtencode's gpu_text.cu): every cudaMalloc through one object that keeps
 * the bytes in use, their peak, and optionally a timeline file
 *   time_s  bytes_in_use  tag
 * (rnencode --mem-trace). A failed allocation throws gpu::Error naming what
 * it was for and how big. */
#ifndef GPU_GPU_MEM_H
#define GPU_GPU_MEM_H

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>

#include <cuda_runtime.h>

#include "gpu_check.h"

extern "C" {
#include "util/util.h"
}

namespace gpu {

/* Device allocations with a running total, a peak and the optional trace. */
class Mem {
public:
	~Mem()
	{
		if (f_)
			fclose(f_);
	}
	void open_trace(const char *path)
	{
		f_ = fopen(path, "w");
		if (!f_)
			fail("gpu", "fopen", std::string(path) + ": " + strerror(errno), __FILE__, __LINE__);
		fprintf(f_, "time_s\tbytes_in_use\ttag\n");
	}
	void start() { t0_ = time_now(); }
	double since_start() const { return time_now() - t0_; }
	void *alloc(size_t bytes, const std::string &tag)
	{
		if (bytes == 0)
			return nullptr;
		void *p = nullptr;
		cudaError_t e = cudaMalloc(&p, bytes);
		if (e != cudaSuccess)
			fail("cuda", "cudaMalloc", tag + ", " + std::to_string(bytes) + " bytes: " + cudaGetErrorName(e) + ": " +
							   cudaGetErrorString(e),
			     __FILE__, __LINE__);
		live_[p] = Block{bytes, tag};
		in_use_ += bytes;
		peak_ = in_use_ > peak_ ? in_use_ : peak_;
		line(since_start(), in_use_, "alloc " + tag);
		return p;
	}
	/* Teardown path too: never throws. */
	void release_all()
	{
		while (!live_.empty())
			release(live_.begin()->first);
	}
	void release(void *p)
	{
		if (!p)
			return;
		auto it = live_.find(p);
		CK_QUIET(cudaFree(p));
		if (it == live_.end())
			return;
		in_use_ -= it->second.bytes;
		line(since_start(), in_use_, "free " + it->second.tag);
		live_.erase(it);
	}
	void line(double t, size_t bytes, const std::string &tag)
	{
		if (f_)
			fprintf(f_, "%.6f\t%zu\t%s\n", t, bytes, tag.c_str());
	}
	void reset_peak() { peak_ = in_use_; }
	bool tracing() const { return f_ != nullptr; }
	size_t in_use() const { return in_use_; }
	size_t peak() const { return peak_; }

private:
	struct Block {
		size_t bytes;
		std::string tag;
	};
	std::map<void *, Block> live_;
	size_t in_use_ = 0, peak_ = 0;
	double t0_ = 0;
	FILE *f_ = nullptr;
};

} // namespace gpu

#endif
