/* fuzz_ckpt.c - libFuzzer targets for the checkpoint readers (common/ckpt*.c).
 *
 * One source, one binary per reader, chosen at compile time:
 *   -DFUZZ_CKPT_ZIP          input is a whole file; only zip-looking inputs are
 *                            read (zip container, then the pickle inside it)
 *   -DFUZZ_CKPT_PICKLE       input follows the legacy magic pickle: pickles 2-5
 *                            and the storages, so the pickle reader sees every byte
 *   -DFUZZ_CKPT_SAFETENSORS  input is a whole file; only safetensors-looking ones
 * Each input is opened with ckpt_open_mem and, when accepted, every tensor byte
 * is read (so ASan sees any view that escapes its buffer) and each name looked up;
 * then the architecture is read from it and bound as rnencode binds it
 * (model/net.c: net_probe, net_load).
 * Build: make fuzz (clang-14, -fsanitize=fuzzer,address,undefined); run:
 *   build-fuzz/fuzz_ckpt_pickle -max_total_time=300 CORPUS_DIR
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt/ckpt.h"
#include "ckpt/internal.h"
#include "model/net.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile unsigned sink; /* keeps the byte reads from being optimised away */

static void exercise(const uint8_t *p, size_t n)
{
	char err[1024];
	ckpt_t *c = ckpt_open_mem(p, n, "fuzz", err, sizeof err);
	if (!c)
		return;
	unsigned sum = 0;
	for (size_t i = 0; i < ckpt_count(c); i++) {
		const ckpt_entry_t *e = ckpt_entry(c, i);
		const uint8_t *b = e->t.data;
		for (size_t k = 0; k < e->t.nbytes; k++)
			sum += b[k];
		if (tensor_numel(&e->t) * (int64_t)dtype_size(e->t.dtype) != (int64_t)e->t.nbytes)
			abort(); /* a table entry whose size disagrees with its shape */
		if (ckpt_find(c, e->name) == NULL)
			abort();
	}
	sink += sum;
	net_arch_t a;
	net_t net;
	if (net_probe(c, &a, err, sizeof err) == 0 && net_load(&net, c, NULL, err, sizeof err) == 0)
		net_free(&net);
	ckpt_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
#if defined(FUZZ_CKPT_ZIP)
	if (ckpt_zip_sniff(data, size))
		exercise(data, size);
#elif defined(FUZZ_CKPT_SAFETENSORS)
	if (ckpt_safetensors_sniff(data, size))
		exercise(data, size);
#elif defined(FUZZ_CKPT_PICKLE)
	static const uint8_t magic[15] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46,
					  0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e};
	uint8_t *buf = malloc(size + sizeof magic);
	if (!buf)
		return 0;
	memcpy(buf, magic, sizeof magic);
	memcpy(buf + sizeof magic, data, size);
	exercise(buf, size + sizeof magic);
	free(buf);
#else
#error "define FUZZ_CKPT_ZIP, FUZZ_CKPT_PICKLE or FUZZ_CKPT_SAFETENSORS"
#endif
	return 0;
}
