/* gpu_check.h - checked CUDA and cuBLAS calls for the CUDA backends (cuDNN's
 * CK_CUDNN is in gpu_conv.h: only rnencode links cuDNN, so txtencode's cuBLAS
 * backend runs where cuDNN is not installed).
 *
 * Every runtime/library call in gpu/ goes through one of these macros. On
 * failure they throw gpu::Error whose message names the library, the call as
 * written, the library's own error name and text, and file:line, e.g.
 *   cublas: cublasCreate(&blas): CUBLAS_STATUS_NOT_INITIALIZED: the library was
 *   not initialized (gpu/gpu_text.cu:246)
 * The C entry points of the backends (gpu_encoder.cu, gpu_text.cu) catch
 * gpu::Error and hand its one-line message to the program, which prints it on
 * stderr; no exception ever crosses into C.
 *
 * CK_LAUNCH() checks the launch of the kernel just before it
 * (cudaGetLastError), so a bad grid or a missing kernel image for this GPU
 * is reported at the launch, not at the next synchronisation.
 * CK_QUIET() is for teardown paths, where throwing is not allowed: it reports
 * the failure on stderr once and goes on.
 */
#ifndef GPU_CHECK_H
#define GPU_CHECK_H

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace gpu {

struct Error : std::runtime_error {
	explicit Error(const std::string &m) : std::runtime_error(m) {}
};

/* Build "lib: call: detail (file:line)" and throw it. */
[[noreturn]] void fail(const char *lib, const char *call, const std::string &detail, const char *file,
		       int line);
[[noreturn]] void fail_cuda(cudaError_t e, const char *call, const char *file, int line);
[[noreturn]] void fail_cublas(cublasStatus_t s, const char *call, const char *file, int line);
/* Teardown: print the failure on stderr (never throws). */
void warn_cuda(cudaError_t e, const char *call, const char *file, int line);
/* The first reasons GPU `ordinal` cannot be used, in the order a user would
 * fix them: no driver (libcuda.so.1), the runtime's error, no such device.
 * false with why; true with that GPU made current, so that the kernel checks
 * that follow look at the card --gpu names. */
bool driver_usable(int ordinal, std::string &why);
/* Make GPU `ordinal` current and return its properties; throws when there is
 * no such GPU ("GPU 3 asked for, 1 present"). */
cudaDeviceProp device_select(int ordinal);
/* Whether the current device can run kernel fn (this build has machine code
 * or PTX for it); false with why, naming the architectures built for. */
bool kernel_loadable(const void *fn, std::string &why);
/* A message into a C caller's buffer (nothing when err is NULL). */
void set_err(char *err, size_t cap, const std::string &m);

} // namespace gpu

#define CK_CUDA(call)                                                                              \
	do {                                                                                       \
		cudaError_t ck_e_ = (call);                                                        \
		if (ck_e_ != cudaSuccess)                                                          \
			gpu::fail_cuda(ck_e_, #call, __FILE__, __LINE__);                          \
	} while (0)

#define CK_CUBLAS(call)                                                                            \
	do {                                                                                       \
		cublasStatus_t ck_s_ = (call);                                                     \
		if (ck_s_ != CUBLAS_STATUS_SUCCESS)                                                \
			gpu::fail_cublas(ck_s_, #call, __FILE__, __LINE__);                        \
	} while (0)

#define CK_LAUNCH(kernel_name)                                                                     \
	do {                                                                                       \
		cudaError_t ck_e_ = cudaGetLastError();                                            \
		if (ck_e_ != cudaSuccess)                                                          \
			gpu::fail_cuda(ck_e_, "launch " kernel_name, __FILE__, __LINE__);          \
	} while (0)

#define CK_QUIET(call)                                                                             \
	do {                                                                                       \
		cudaError_t ck_e_ = (call);                                                        \
		if (ck_e_ != cudaSuccess)                                                          \
			gpu::warn_cuda(ck_e_, #call, __FILE__, __LINE__);                          \
	} while (0)

#endif
