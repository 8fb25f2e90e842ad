/* fuzz_wordnet.c - libFuzzer target for the WordNet reader and the class
 * hierarchy built on it (common/eval/wordnet.c), which errtree runs on a
 * data.noun file given with --wordnet.
 *
 * Input: the bytes of a data.noun file (seeds: testdata/errtree/data.noun,
 * or wordnet/ of fuzz/make_corpus.py). It is put in a memfd and read by its
 * /proc/self/fd path, as a file on disk. When it loads, the first (up to) 12
 * synsets are taken as classes and the hierarchy built over them; when that
 * succeeds every pair's LCA is computed, and the families for 3 classes each.
 * Checks, besides the sanitizers: a refusal always says why; the synsets are
 * in ascending offset order and wn_find finds each; the LCA of a and b is an
 * ancestor of both and no lower than either; the families place every class.
 *
 *   make fuzz && /usr/bin/python3 fuzz/make_corpus.py seeds
 *   build-fuzz/fuzz_wordnet -max_total_time=300 corpus/ seeds/wordnet
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fuzz/fuzz_memfd.h"
#include "eval/eval.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_hierarchy(const wordnet_t *wn)
{
	uint32_t off[12];
	int n = wn->n < 12 ? (int)wn->n : 12;
	for (int i = 0; i < n; i++)
		off[i] = wn->synsets[i].offset;
	wn_hier_t h;
	char err[512] = "";
	if (wn_hier_build(&h, wn, off, n, err, sizeof err) != 0) {
		if (!err[0])
			abort();
		return;
	}
	for (int a = 0; a < h.nclasses; a++)
		for (int b = 0; b < h.nclasses; b++) {
			int u = h.class_node[a], v = h.class_node[b], l = wn_hier_lca(&h, u, v);
			if (l < 0 || l >= h.nnodes || !wn_hier_is_ancestor(&h, l, u) || !wn_hier_is_ancestor(&h, l, v) ||
			    h.height[l] < h.height[u] || h.height[l] < h.height[v])
				abort();
		}
	int *fam = NULL, class_fam[12];
	int nf = wn_hier_families(&h, 3, &fam, class_fam);
	for (int c = 0; c < h.nclasses; c++)
		if (class_fam[c] < 0 || class_fam[c] >= nf)
			abort();
	free(fam);
	wn_hier_free(&h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64], err[512] = "";
	int fd = fuzz_memfd(data, size, path, sizeof path);
	wordnet_t wn;
	if (wn_load(&wn, path, err, sizeof err) == 0) {
		for (size_t i = 0; i < wn.n; i++)
			if ((i && wn.synsets[i - 1].offset >= wn.synsets[i].offset) ||
			    wn_find(&wn, wn.synsets[i].offset) != (long)i)
				abort();
		check_hierarchy(&wn);
		wn_free(&wn);
	} else if (!err[0]) {
		abort();
	}
	close(fd);
	return 0;
}
