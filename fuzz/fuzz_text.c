/* fuzz_text.c - libFuzzer target for txtencode's text inputs: the JSON
 * prompt lists and templates (common/text/prompts.c) and CLIP's tokenizer
 * (common/text/bpe.c), which gets every prompt the first two produce.
 *
 * Input: first byte picks the part, the rest is its text:
 *   0 mod 3   a --prompts JSON file; each prompt it yields is tokenized
 *   1 mod 3   "TEMPLATE\0NAME": a template line filled with a class name,
 *             and the result tokenized
 *   2 mod 3   a prompt, tokenized directly (any bytes: invalid UTF-8 must be
 *             refused with a reason, never read past)
 * The vocabulary is loaded once from $FUZZ_BPE (default
 * data/clip/bpe_simple_vocab_16e6.txt.gz, run from the repository root).
 * Checks, besides the sanitizers: a refusal always says why; an accepted
 * prompt set has classes, prompts and in-range class indices; a tokenized
 * text starts with 49406, ends with 49407, has ids below 49408 only, is at
 * most 77 ids when truncated, and its cleaned text is refused exactly when
 * the tokenizer refuses it.
 *
 * Seeds: text/ of fuzz/make_corpus.py.
 *
 *   make fuzz && /usr/bin/python3 fuzz/make_corpus.py seeds
 *   build-fuzz/fuzz_text -dict=fuzz/text.dict -max_total_time=300 corpus/ seeds/text
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text/text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bpe_t *bpe;
static bpe_ids_t ids;

static void tokenize(const char *text, size_t len, int truncate)
{
	char err[512] = "", err2[512] = "";
	long n = bpe_tokenize(bpe, text, len, BPE_CONTEXT, truncate, &ids, err, sizeof err);
	char *clean = bpe_clean_text(text, len, err2, sizeof err2);
	if ((n < 0) != (clean == NULL))
		abort(); /* cleanup and tokenizer disagree on what is acceptable */
	free(clean);
	if (n < 0) {
		if (!err[0] || !err2[0])
			abort();
		return;
	}
	if (ids.n < 2 || ids.v[0] != bpe_sot(bpe) || ids.v[ids.n - 1] != bpe_eot(bpe) || (size_t)n < ids.n)
		abort();
	if (truncate ? ids.n > BPE_CONTEXT : ids.n != (size_t)n)
		abort();
	for (size_t i = 0; i < ids.n; i++)
		if (ids.v[i] < 0 || ids.v[i] > bpe_eot(bpe))
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!bpe) {
		char err[512];
		const char *path = getenv("FUZZ_BPE");
		if (!(bpe = bpe_load(path ? path : "data/clip/bpe_simple_vocab_16e6.txt.gz", err, sizeof err))) {
			fprintf(stderr, "fuzz_text: %s\n", err);
			abort();
		}
	}
	if (size < 1)
		return 0;
	const char *text = (const char *)data + 1;
	size_t len = size - 1;
	int truncate = data[0] & 4;
	switch (data[0] % 3) {
	case 0: {
		prompts_t ps = {0};
		char err[1024] = "";
		if (prompts_from_json(&ps, text, len, "fuzz.json", err, sizeof err) == 0) {
			if (ps.k < 1 || ps.p < ps.k)
				abort();
			for (int i = 0; i < ps.p; i++) {
				if (ps.cls[i] < 0 || ps.cls[i] >= ps.k || !ps.names[ps.cls[i]])
					abort();
				tokenize(ps.texts[i], strlen(ps.texts[i]), truncate);
			}
		} else if (!err[0]) {
			abort();
		}
		prompts_free(&ps);
		break;
	}
	case 1: {
		char *s = malloc(len + 2); /* "TEMPLATE\0NAME\0" even when the input has no NUL */
		memcpy(s, text, len);
		s[len] = s[len + 1] = 0;
		const char *name = s + strlen(s) + 1;
		const char *why = NULL;
		char *p = prompt_format(s, name, &why);
		if (p)
			tokenize(p, strlen(p), truncate);
		else if (!why || !why[0])
			abort();
		free(p);
		free(s);
		break;
	}
	default:
		tokenize(text, len, truncate);
	}
	return 0;
}
