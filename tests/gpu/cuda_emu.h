/* cuda_emu.h - the CUDA backends' own kernels executed on the host, for the
 * tests of machines without a GPU (tests/gpu/test_gpu_kernels.sh).
 *
 * A kernel file (gpu/gpu_kernels.cu, gpu/gpu_text_kernels.cu) is compiled by
 * g++ with this header included first (-include) and its launches rewritten
 * by tests/gpu/emu_launch.sed:
 *     k<T><<<grid, block, smem, stream>>>(args)
 *  -> cuda_emu::launch(grid, block, smem, stream)("k<T>", k<T>, args)
 * so the launchers, their grid arithmetic and the kernels' bodies are the
 * code the GPU runs. Every CUDA thread of a block runs as a coroutine
 * on one OS thread, blocks one after another; threadIdx,
 * blockIdx, blockDim and gridDim are the running thread's. __syncthreads()
 * and __shfl_xor_sync() suspend the thread until its block (or its warp) has
 * arrived, so the kernels' barrier and warp logic runs as written.
 *
 * What a GPU would not forgive stops the program with one line naming the
 * kernel, block and source line, where CUDA would fail the launch or leave
 * the result undefined:
 *   - a launch past the limits (0 or over 1024 threads per block, an empty
 *     grid, grid.y or grid.z over 65535, over 48 KiB of dynamic shared
 *     memory): cudaErrorInvalidConfiguration, as the runtime reports it, for
 *     the launcher's CK_LAUNCH;
 *   - __syncthreads() that not every thread of the block reaches at the same
 *     line (some exited, or wait at another barrier);
 *   - a full-mask __shfl_xor_sync() that not all 32 lanes of the warp reach
 *     at the same call (a lane exited or diverged), or a partner lane past
 *     the block.
 * Dynamic shared memory starts as NaN bytes (0xff), so a read before any
 * write shows in the results; threads run up to their next barrier in
 * ascending order in one block, descending in the next, so a read of
 * another thread's write without a barrier between shows too. Memory accesses are plain host accesses: the
 * test's buffers end at a guard page (emu_alloc), so a read or write past
 * the end faults.
 */
#ifndef CUDA_EMU_H
#define CUDA_EMU_H

#define CUDA_EMU 1

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <signal.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <vector>

namespace cuda_emu {

/* Coroutine contexts. glibc's swapcontext saves the signal mask with a
 * system call on every switch, and the warp-level kernels switch tens of
 * millions of times; on x86-64 a switch is the callee-saved registers and
 * the stack pointer, nothing else (ucontext elsewhere). */
#if defined(__x86_64__)
extern "C" void cuda_emu_switch(void **save_sp, void *load_sp);
__asm__(".text\n"
	".weak cuda_emu_switch\n"
	".type cuda_emu_switch,@function\n"
	"cuda_emu_switch:\n"
	"\tpushq %rbp\n\tpushq %rbx\n\tpushq %r12\n\tpushq %r13\n\tpushq %r14\n\tpushq %r15\n"
	"\tmovq %rsp, (%rdi)\n\tmovq %rsi, %rsp\n"
	"\tpopq %r15\n\tpopq %r14\n\tpopq %r13\n\tpopq %r12\n\tpopq %rbx\n\tpopq %rbp\n"
	"\tret\n"
	".size cuda_emu_switch, .-cuda_emu_switch\n");
struct Ctx {
	void *sp = nullptr;
};
inline void ctx_switch(Ctx &from, Ctx &to) { cuda_emu_switch(&from.sp, to.sp); }
/* A context that starts entry() on the given stack: the six registers the
 * switch pops, then entry as its return address, 16-byte aligned as a call
 * leaves it. entry() must never return. */
inline void ctx_make(Ctx &c, char *stack, size_t size, void (*entry)())
{
	uintptr_t top = (uintptr_t)(stack + size) & ~(uintptr_t)15;
	void **ret = (void **)(top - 16);
	ret[0] = (void *)entry;
	ret[1] = nullptr;
	void **sp = ret - 6;
	for (int k = 0; k < 6; k++)
		sp[k] = nullptr;
	c.sp = sp;
}
#else
struct Ctx {
	ucontext_t uc;
};
inline void ctx_switch(Ctx &from, Ctx &to) { swapcontext(&from.uc, &to.uc); }
inline void ctx_make(Ctx &c, char *stack, size_t size, void (*entry)())
{
	getcontext(&c.uc);
	c.uc.uc_stack.ss_sp = stack;
	c.uc.uc_stack.ss_size = size;
	c.uc.uc_link = nullptr;
	makecontext(&c.uc, entry, 0);
}
#endif

enum State { RUN, AT_SYNC, AT_SHFL, DONE };

struct Thread {
	Ctx ctx;
	uint3 tid;
	State state = RUN;
	int line = 0;        /* source line of the barrier it waits at */
	long passes = 0;     /* barriers of that kind passed: the same line in another pass diverged */
	long shfl_passes = 0;
	uint64_t val = 0, res = 0; /* shuffle: the value offered, the partner's */
	int off = 0;
	unsigned mask = 0;
};

struct Emu {
	dim3 grid, block;
	uint3 block_idx{0, 0, 0};
	std::vector<Thread> th;
	std::vector<std::vector<char>> stacks;
	std::vector<unsigned char> smem;
	Ctx sched;
	Thread *cur = nullptr;
	std::function<void()> body;
	const char *kernel = "";
	cudaError_t last = cudaSuccess;
	long launches = 0, threads_run = 0;
	long suspends = 0;  /* barriers reached, all blocks */
	bool plain = false; /* this block's threads run as plain calls (no barrier expected) */
};

inline Emu &emu()
{
	static Emu e;
	return e;
}

[[noreturn]] inline void die(const char *fmt, ...)
{
	Emu &e = emu();
	fprintf(stderr, "cuda_emu: %s, block (%u,%u,%u): ", e.kernel, e.block_idx.x, e.block_idx.y, e.block_idx.z);
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* A fault inside a kernel (the guard page after a buffer, a wild pointer):
 * name the kernel and block instead of dying silently. */
inline void on_fault(int sig, siginfo_t *si, void *)
{
	Emu &e = emu();
	fprintf(stderr, "cuda_emu: %s, block (%u,%u,%u), thread (%u,%u,%u): %s at address %p (past the end of a buffer?)\n",
		e.kernel, e.block_idx.x, e.block_idx.y, e.block_idx.z, e.cur ? e.cur->tid.x : 0, e.cur ? e.cur->tid.y : 0,
		e.cur ? e.cur->tid.z : 0, sig == SIGBUS ? "SIGBUS" : "SIGSEGV", si->si_addr);
	_exit(1);
}

inline void catch_faults()
{
	static bool done = false;
	if (done)
		return;
	done = true;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGSEGV, &sa, nullptr);
	sigaction(SIGBUS, &sa, nullptr);
}

inline cudaError_t get_last_error()
{
	cudaError_t r = emu().last;
	emu().last = cudaSuccess;
	return r;
}

inline void trampoline()
{
	Emu &e = emu();
	e.body();
	e.cur->state = DONE;
	ctx_switch(e.cur->ctx, e.sched); /* never resumed */
	abort();
}

inline void suspend(State s, int line)
{
	Emu &e = emu();
	if (e.plain)
		die("a barrier at line %d in a block of a kernel whose first block reached none (this emulator runs "
		    "such blocks without coroutines)",
		    line);
	e.suspends++;
	Thread *t = e.cur;
	t->state = s;
	t->line = line;
	ctx_switch(t->ctx, e.sched);
}

inline void syncthreads(int line) { suspend(AT_SYNC, line); }

template <class T> T shfl_xor(unsigned mask, T v, int off, int line)
{
	static_assert(sizeof(T) <= sizeof(uint64_t), "shuffle of a value over 8 bytes");
	Thread *t = emu().cur;
	t->mask = mask;
	t->off = off;
	memcpy(&t->val, &v, sizeof v);
	suspend(AT_SHFL, line);
	T r;
	memcpy(&r, &t->res, sizeof r);
	return r;
}

/* Release the warps whose lanes all wait at one shuffle; true if any was. */
inline bool release_warps(size_t nt)
{
	Emu &e = emu();
	bool any = false;
	for (size_t lo = 0; lo < nt; lo += 32) {
		size_t hi = lo + 32 < nt ? lo + 32 : nt, at = 0, done = 0;
		for (size_t i = lo; i < hi; i++) {
			at += e.th[i].state == AT_SHFL;
			done += e.th[i].state == DONE;
		}
		if (at == 0)
			continue;
		size_t w = lo;
		while (e.th[w].state != AT_SHFL)
			w++;
		const Thread &f = e.th[w];
		if (at != 32)
			die("warp %zu: __shfl_xor_sync at line %d reached by %zu of 32 lanes (%zu exited, %zu elsewhere)",
			    lo / 32, f.line, at, done, hi - lo - at - done);
		for (size_t i = lo; i < hi; i++) {
			const Thread &t = e.th[i];
			if (t.line != f.line || t.shfl_passes != f.shfl_passes)
				die("warp %zu: lanes at different shuffles (line %d pass %ld, line %d pass %ld)", lo / 32,
				    f.line, f.shfl_passes, t.line, t.shfl_passes);
			if (t.mask != 0xffffffffu)
				die("warp %zu: __shfl_xor_sync mask %#x (this emulator knows full warps only)", lo / 32,
				    t.mask);
		}
		for (size_t i = lo; i < hi; i++) {
			Thread &t = e.th[i];
			size_t p = lo + ((i - lo) ^ (size_t)t.off);
			if (t.off < 0 || t.off > 31 || p >= hi)
				die("warp %zu: __shfl_xor_sync offset %d at line %d", lo / 32, t.off, t.line);
			t.res = e.th[p].val;
		}
		for (size_t i = lo; i < hi; i++) {
			e.th[i].state = RUN;
			e.th[i].shfl_passes++;
		}
		any = true;
	}
	return any;
}

/* threadIdx of the block's i-th thread (x fastest) */
inline uint3 thread_index(size_t i)
{
	const dim3 &b = emu().block;
	return uint3{(unsigned)(i % b.x), (unsigned)(i / b.x % b.y), (unsigned)(i / ((size_t)b.x * b.y))};
}

/* The k-th thread to resume: ascending in even blocks, descending in odd
 * ones, so a read of another thread's write with no barrier between sees the
 * NaN start in one of the two. */
inline size_t resume_order(size_t k, size_t nt)
{
	const uint3 &b = emu().block_idx;
	return (b.x + b.y + b.z) & 1 ? nt - 1 - k : k;
}

/* Run the current block to the end, barrier by barrier. */
inline void run_block(size_t nt)
{
	Emu &e = emu();
	const size_t stack = 64 << 10;
	if (e.stacks.size() < nt)
		e.stacks.resize(nt, std::vector<char>(stack));
	for (size_t i = 0; i < nt; i++) {
		Thread &t = e.th[i];
		t = Thread();
		t.tid = thread_index(i);
		ctx_make(t.ctx, e.stacks[i].data(), stack, trampoline);
	}
	std::fill(e.smem.begin(), e.smem.end(), 0xff);
	for (;;) {
		for (size_t k = 0; k < nt; k++) {
			size_t i = resume_order(k, nt);
			if (e.th[i].state == RUN) {
				e.cur = &e.th[i];
				ctx_switch(e.sched, e.th[i].ctx);
			}
		}
		if (release_warps(nt))
			continue;
		size_t at = 0, done = 0;
		int line = 0;
		for (size_t i = 0; i < nt; i++) {
			if (e.th[i].state == AT_SYNC) {
				if (at && (e.th[i].line != line || e.th[i].passes != e.th[0].passes))
					die("__syncthreads at line %d and at line %d (or another pass) at once", line,
					    e.th[i].line);
				line = e.th[i].line;
				at++;
			}
			done += e.th[i].state == DONE;
		}
		if (at == 0 && done == nt)
			break;
		if (at != nt)
			die("__syncthreads at line %d reached by %zu of %zu threads (%zu exited)", line, at, nt, done);
		for (size_t i = 0; i < nt; i++) {
			e.th[i].state = RUN;
			e.th[i].passes++;
		}
	}
	e.threads_run += (long)nt;
}

/* A block of a kernel without barriers: each thread is one plain call
 * (no coroutine to switch to), in the same alternating order. */
inline void run_block_plain(size_t nt)
{
	Emu &e = emu();
	std::fill(e.smem.begin(), e.smem.end(), 0xff);
	for (size_t k = 0; k < nt; k++) {
		size_t i = resume_order(k, nt);
		Thread &t = e.th[i];
		t.tid = thread_index(i);
		e.cur = &t;
		e.body();
	}
	e.threads_run += (long)nt;
}

/* Run kernel `body` over the whole grid, block after block. The first block
 * runs on coroutines; if none of its threads reached a barrier, the others
 * run as plain calls (a barrier there after all stops the program). */
inline void execute(const char *name, dim3 grid, dim3 block, size_t smem, const std::function<void()> &body)
{
	Emu &e = emu();
	size_t nt = (size_t)block.x * block.y * block.z;
	e.kernel = name;
	e.grid = grid;
	e.block = block;
	e.th.assign(nt, Thread());
	e.smem.assign(smem, 0xff);
	e.body = body;
	bool first = true, plain = false;
	for (unsigned z = 0; z < grid.z; z++)
		for (unsigned y = 0; y < grid.y; y++)
			for (unsigned x = 0; x < grid.x; x++) {
				e.block_idx = uint3{x, y, z};
				if (plain) {
					e.plain = true;
					run_block_plain(nt);
					e.plain = false;
					continue;
				}
				long before = e.suspends;
				run_block(nt);
				plain = first && e.suspends == before;
				first = false;
			}
	e.body = nullptr;
}

/* Where launches go: run at once (default), or handed to a fake runtime's
 * stream (tests/gpu/fake_cuda.cc), which may run it later, e.g. from a
 * captured CUDA graph. */
using Submit = void (*)(cudaStream_t, std::function<void()>);
inline Submit &submit_hook()
{
	static Submit s = nullptr;
	return s;
}

struct Launch {
	dim3 grid, block;
	size_t smem;
	cudaStream_t stream;
	template <class... P, class... A> void operator()(const char *name, void (*k)(P...), A &&...a)
	{
		Emu &e = emu();
		catch_faults();
		e.launches++;
		size_t nt = (size_t)block.x * block.y * block.z;
		if (nt == 0 || nt > 1024 || grid.x == 0 || grid.y == 0 || grid.z == 0 || grid.y > 65535 ||
		    grid.z > 65535 || smem > 48 * 1024) {
			fprintf(stderr, "cuda_emu: %s: launch of grid (%u,%u,%u) x block (%u,%u,%u), %zu bytes shared: "
					"invalid configuration\n",
				name, grid.x, grid.y, grid.z, block.x, block.y, block.z, smem);
			e.last = cudaErrorInvalidConfiguration;
			return;
		}
		/* the arguments by value, as a launch copies them */
		std::function<void()> body = [k, a...] { k(a...); };
		std::function<void()> run = [name, g = grid, b = block, sm = smem, body] { execute(name, g, b, sm, body); };
		if (submit_hook())
			submit_hook()(stream, run);
		else
			run();
	}
};

inline Launch launch(dim3 grid, dim3 block, size_t smem = 0, cudaStream_t stream = nullptr)
{
	return Launch{grid, block, smem, stream};
}

/* n bytes whose end is a guard page: an access past it faults. The mapping
 * is the whole pages holding n bytes (span) plus the guard page. */
inline size_t guard_span(size_t n, size_t pg) { return (n + pg - 1) / pg * pg; }
inline void *emu_alloc(size_t n)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE), span = guard_span(n, pg);
	char *p = (char *)mmap(nullptr, span + pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED || mprotect(p + span, pg, PROT_NONE) != 0) {
		perror("cuda_emu: mmap");
		exit(2);
	}
	return p + span - n;
}
inline void emu_free(void *q, size_t n)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE), span = guard_span(n, pg);
	munmap((char *)q + n - span, span + pg);
}

} // namespace cuda_emu

/* The device-side names, after the CUDA headers have declared theirs. */
#undef __global__
#undef __device__
#undef __host__
#undef __forceinline__
#undef __shared__
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static /* one block runs at a time: static storage is the block's */
#define threadIdx (cuda_emu::emu().cur->tid)
#define blockIdx (cuda_emu::emu().block_idx)
#define blockDim (cuda_emu::emu().block)
#define gridDim (cuda_emu::emu().grid)
#define __syncthreads() cuda_emu::syncthreads(__LINE__)
#define __shfl_xor_sync(mask, v, off) cuda_emu::shfl_xor((mask), (v), (off), __LINE__)
#define cudaGetLastError cuda_emu::get_last_error
#define GPU_DYNAMIC_SHARED(T, name) T *name = (T *)cuda_emu::emu().smem.data()

#endif
