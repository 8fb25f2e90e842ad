/* gpu_check.cu - error messages for the checked-call macros of gpu_check.h. */
#include "gpu_check.h"

#include <cstdio>

#include <dlfcn.h>

extern "C" {
#include "util/util.h"
}

namespace gpu {

static std::string where(const char *file, int line)
{
	return std::string(" (") + file + ":" + std::to_string(line) + ")";
}

void fail(const char *lib, const char *call, const std::string &detail, const char *file, int line)
{
	throw Error(std::string(lib) + ": " + call + ": " + detail + where(file, line));
}

void fail_cuda(cudaError_t e, const char *call, const char *file, int line)
{
	fail("cuda", call, std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e), file, line);
}

void fail_cublas(cublasStatus_t s, const char *call, const char *file, int line)
{
	fail("cublas", call, std::string(cublasGetStatusName(s)) + ": " + cublasGetStatusString(s), file,
	     line);
}

void warn_cuda(cudaError_t e, const char *call, const char *file, int line)
{
	diag_msg("cuda: %s: %s: %s (%s:%d)", call, cudaGetErrorName(e), cudaGetErrorString(e), file, line);
}

bool driver_usable(int ordinal, std::string &why)
{
	void *drv = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL);
	if (!drv) {
		why = "no NVIDIA driver (libcuda.so.1 not found)";
		return false;
	}
	dlclose(drv);
	int count = 0;
	cudaError_t e = cudaGetDeviceCount(&count);
	if (e != cudaSuccess) {
		why = std::string("no usable CUDA device: cudaGetDeviceCount: ") + cudaGetErrorName(e) + ": " +
		      cudaGetErrorString(e);
		(void)cudaGetLastError();
		return false;
	}
	if (count == 0) {
		why = "no CUDA device";
		return false;
	}
	if (ordinal < 0 || ordinal >= count) {
		why = "GPU " + std::to_string(ordinal) + " asked for, " + std::to_string(count) + " present";
		return false;
	}
	e = cudaSetDevice(ordinal);
	if (e != cudaSuccess) {
		why = "cudaSetDevice(" + std::to_string(ordinal) + "): " + cudaGetErrorName(e) + ": " + cudaGetErrorString(e);
		(void)cudaGetLastError();
		return false;
	}
	return true;
}

cudaDeviceProp device_select(int ordinal)
{
	int count = 0;
	CK_CUDA(cudaGetDeviceCount(&count));
	if (ordinal < 0 || ordinal >= count)
		fail("cuda", "device", "GPU " + std::to_string(ordinal) + " asked for, " + std::to_string(count) + " present",
		     __FILE__, __LINE__);
	CK_CUDA(cudaSetDevice(ordinal));
	cudaDeviceProp prop;
	CK_CUDA(cudaGetDeviceProperties(&prop, ordinal));
	return prop;
}

bool kernel_loadable(const void *fn, std::string &why)
{
	cudaFuncAttributes a;
	cudaError_t e = cudaFuncGetAttributes(&a, fn);
	if (e == cudaSuccess)
		return true;
	(void)cudaGetLastError();
	why = "this build has no kernels for the GPU (see GPU_ARCH in the Makefile): " + std::string(cudaGetErrorName(e)) +
	      ": " + cudaGetErrorString(e);
	return false;
}

void set_err(char *err, size_t cap, const std::string &m)
{
	if (err && cap)
		snprintf(err, cap, "%s", m.c_str());
}

} // namespace gpu
