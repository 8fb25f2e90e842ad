/* gpu_check.cu - error messages for the checked-call macros of gpu_check.h. */
#include "gpu_check.h"

extern "C" {
#include "diag.h"
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

void fail_cudnn(cudnnStatus_t s, const char *call, const char *file, int line)
{
	/* cudnnGetLastErrorString adds cuDNN's own explanation where it has one. */
	char why[256] = "";
	cudnnGetLastErrorString(why, sizeof why);
	std::string detail = cudnnGetErrorString(s);
	if (why[0])
		detail += std::string(": ") + why;
	fail("cudnn", call, detail, file, line);
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

} // namespace gpu
