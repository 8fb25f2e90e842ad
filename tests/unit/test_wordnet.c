/* test_wordnet.c - common/eval/wordnet.c on the hand-made hierarchy in
 * testdata/errtree/data.noun (drawn, with every height and depth, in that
 * file's header lines) and on malformed data.noun lines.
 *
 * Expected values were worked out by hand from the drawing:
 *   height = longest path down to a leaf, depth = shortest path up to entity,
 *   LCA = the common ancestor of least height, ties to the smaller offset.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/util.h"
#include "eval/eval.h"
#include "check.h"


/* Classes in testdata/errtree/wnids.txt order. */
enum {
	AIREDALE,
	BORDER,
	BEAGLE,
	TABBY,
	TIGER_CAT,
	CRANE_BIRD,
	HAWK,
	CRANE_MACHINE,
	SPECTACLES,
	SUNGLASSES,
	EIFFEL,
	BIG_BEN,
	NCLASSES
};
static const uint32_t class_offsets[NCLASSES] = {8100, 8200, 8300, 9200, 9300, 10100,
						 10200, 21100, 22000, 22100, 30100, 30200};

static int node_of(const wn_hier_t *h, uint32_t offset)
{
	for (int v = 0; v < h->nnodes; v++)
		if (wn_hier_synset(h, v)->offset == offset)
			return v;
	return -1;
}

static void check_node(const wn_hier_t *h, uint32_t offset, const char *name, int height, int depth, int nunder)
{
	int v = node_of(h, offset);
	CHECK(v >= 0, "n%08u not in the hierarchy", offset);
	if (v < 0)
		return;
	const wn_synset_t *s = wn_hier_synset(h, v);
	CHECK(s->name_len == strlen(name) && memcmp(s->words, name, s->name_len) == 0, "n%08u name '%.*s', want '%s'",
	      offset, (int)s->name_len, s->words, name);
	CHECK(h->height[v] == height, "%s height %d, want %d", name, h->height[v], height);
	CHECK(h->depth[v] == depth, "%s depth %d, want %d", name, h->depth[v], depth);
	CHECK(h->nunder[v] == nunder, "%s has %d classes under it, want %d", name, h->nunder[v], nunder);
}

static void check_lca(const wn_hier_t *h, int a, int b, uint32_t want_offset, int want_height)
{
	for (int swap = 0; swap < 2; swap++) {
		int x = swap ? b : a, y = swap ? a : b;
		int l = wn_hier_lca(h, h->class_node[x], h->class_node[y]);
		CHECK(l >= 0 && wn_hier_synset(h, l)->offset == want_offset && h->height[l] == want_height,
		      "LCA(class %d, class %d) = n%08u height %d, want n%08u height %d", x, y,
		      l >= 0 ? wn_hier_synset(h, l)->offset : 0, l >= 0 ? h->height[l] : -1, want_offset, want_height);
	}
}

static void test_hand_made(const char *dir)
{
	char path[4096], err[512];
	snprintf(path, sizeof path, "%s/errtree/data.noun", dir);
	wordnet_t wn;
	CHECK(wn_load(&wn, path, err, sizeof err) == 0, "%s", err);
	if (!wn.n)
		return;
	CHECK(wn.n == 29, "%zu synsets, want 29", wn.n);
	long dog = wn_find(&wn, 7000);
	CHECK(dog >= 0 && strcmp(wn.synsets[dog].words, "dog, domestic dog, Canis familiaris") == 0 &&
		      wn.synsets[dog].nparents == 2,
	      "dog's words or hypernyms wrong (the '~' and verb '+' pointers must not count)");
	CHECK(wn_find(&wn, 8300) >= 0, "the out-of-order beagle line was lost");
	CHECK(wn_find(&wn, 8301) < 0, "found a synset that is not there");
	uint32_t off;
	CHECK(wn_parse_wnid("n02084071", 9, &off) == 0 && off == 2084071, "wnid parse");
	CHECK(wn_parse_wnid("n0208407", 8, &off) != 0 && wn_parse_wnid("v02084071", 9, &off) != 0 &&
		      wn_parse_wnid("n0208407x", 9, &off) != 0,
	      "bad wnids accepted");

	wn_hier_t h;
	CHECK(wn_hier_build(&h, &wn, class_offsets, NCLASSES, err, sizeof err) == 0, "%s", err);
	if (!h.nnodes) {
		wn_free(&wn);
		return;
	}
	CHECK(h.nnodes == 28, "%d nodes, want 28 (abstraction is above no class)", h.nnodes);
	CHECK(wn_hier_synset(&h, h.root)->offset == 1000, "root is not entity");
	/* offset, name, height, depth, classes under it */
	check_node(&h, 1000, "entity", 7, 0, 12);
	check_node(&h, 2000, "animal", 6, 1, 7);
	check_node(&h, 3000, "pet", 3, 2, 5);
	check_node(&h, 4000, "mammal", 5, 2, 5);
	check_node(&h, 5000, "carnivore", 4, 3, 5);
	check_node(&h, 6000, "canine", 3, 4, 3);
	check_node(&h, 7000, "dog", 2, 3, 3);
	check_node(&h, 8000, "terrier", 1, 4, 2);
	check_node(&h, 8100, "Airedale", 0, 5, 1);
	check_node(&h, 8300, "beagle", 0, 4, 1);
	check_node(&h, 9000, "feline", 2, 4, 2);
	check_node(&h, 9100, "cat", 1, 3, 2);
	check_node(&h, 9300, "tiger cat", 0, 4, 1);
	check_node(&h, 10000, "bird", 1, 2, 2);
	check_node(&h, 20000, "artifact", 3, 1, 5);
	check_node(&h, 21000, "device", 2, 2, 3);
	check_node(&h, 22000, "spectacles", 1, 3, 2);
	check_node(&h, 22100, "sunglasses", 0, 4, 1);
	check_node(&h, 25000, "structure", 2, 2, 2);
	check_node(&h, 29000, "landmark", 1, 2, 2);
	check_node(&h, 30000, "tower", 1, 3, 2);
	check_node(&h, 30100, "Eiffel Tower", 0, 3, 1);

	check_lca(&h, AIREDALE, BORDER, 8000, 1);     /* terrier */
	check_lca(&h, AIREDALE, BEAGLE, 7000, 2);     /* dog */
	check_lca(&h, TABBY, TIGER_CAT, 9100, 1);     /* cat */
	/* beagle/tabby share pet (h3) and carnivore (h4): least height is pet,
	 * although carnivore is the deeper of the two (depth 3 vs 2). */
	check_lca(&h, BEAGLE, TABBY, 3000, 3);
	check_lca(&h, BEAGLE, HAWK, 2000, 6);         /* animal */
	check_lca(&h, CRANE_BIRD, CRANE_MACHINE, 1000, 7); /* entity: the two cranes */
	check_lca(&h, AIREDALE, CRANE_MACHINE, 1000, 7);
	check_lca(&h, SPECTACLES, SUNGLASSES, 22000, 1); /* the ancestor class itself */
	check_lca(&h, SUNGLASSES, CRANE_MACHINE, 21000, 2); /* device */
	check_lca(&h, EIFFEL, SUNGLASSES, 20000, 3); /* artifact */
	/* Eiffel Tower and Big Ben: tower (n00030000) and landmark (n00029000)
	 * both h1; their lines list tower first, but the smaller offset wins. */
	check_lca(&h, EIFFEL, BIG_BEN, 29000, 1);
	CHECK(wn_hier_lca(&h, h.class_node[HAWK], h.class_node[HAWK]) == h.class_node[HAWK], "LCA(x, x) != x");

	int sp = h.class_node[SPECTACLES], su = h.class_node[SUNGLASSES], be = h.class_node[BEAGLE];
	CHECK(wn_hier_is_ancestor(&h, sp, su) && !wn_hier_is_ancestor(&h, su, sp), "spectacles above sunglasses");
	CHECK(wn_hier_is_ancestor(&h, node_of(&h, 3000), be) && wn_hier_is_ancestor(&h, h.root, be) &&
		      wn_hier_is_ancestor(&h, be, be) && !wn_hier_is_ancestor(&h, node_of(&h, 9000), be),
	      "ancestor sets of beagle");

	/* Families see the tree of first-listed hypernyms: dog under canine
	 * (not pet), cat under feline, the towers under tower (not landmark);
	 * pet and landmark then hold no class. At most 4 classes:
	 * entity(12) -> animal 7, artifact 5; animal -> mammal 5, bird 2;
	 * mammal (5, n4000, before artifact n20000) -> carnivore 5 -> canine 3,
	 * feline 2; artifact -> device 3, structure 2. */
	int *fam = NULL, cf[NCLASSES];
	int nf = wn_hier_families(&h, 4, &fam, cf);
	static const uint32_t want_fam[] = {6000, 21000, 9000, 10000, 25000};
	static const int want_cf[NCLASSES] = {0, 0, 0, 2, 2, 3, 3, 1, 1, 1, 4, 4};
	CHECK(nf == 5, "%d families at most 4 classes, want 5", nf);
	for (int i = 0; i < nf && i < 5; i++)
		CHECK(wn_hier_synset(&h, fam[i])->offset == want_fam[i], "family %d is n%08u, want n%08u", i,
		      wn_hier_synset(&h, fam[i])->offset, want_fam[i]);
	for (int c = 0; c < NCLASSES; c++)
		CHECK(cf[c] == want_cf[c], "class %d in family %d, want %d", c, cf[c], want_cf[c]);
	free(fam);
	/* At most 5: entity -> animal 7, artifact 5; animal -> mammal 5, bird 2. */
	nf = wn_hier_families(&h, 5, &fam, cf);
	CHECK(nf == 3 && wn_hier_synset(&h, fam[0])->offset == 4000 && wn_hier_synset(&h, fam[1])->offset == 20000 &&
		      wn_hier_synset(&h, fam[2])->offset == 10000,
	      "families at most 5: got %d", nf);
	free(fam);
	/* Everything fits: one family, the root. */
	nf = wn_hier_families(&h, 100, &fam, cf);
	CHECK(nf == 1 && fam[0] == h.root && cf[BIG_BEN] == 0, "families at most 100: got %d", nf);
	free(fam);

	uint32_t dup[2] = {8100, 8100}, missing[2] = {8100, 8150};
	wn_hier_t h2;
	CHECK(wn_hier_build(&h2, &wn, dup, 2, err, sizeof err) != 0 && strstr(err, "same synset"), "duplicate: %s",
	      err);
	CHECK(wn_hier_build(&h2, &wn, missing, 2, err, sizeof err) != 0 && strstr(err, "n00008150"), "missing: %s",
	      err);
	wn_hier_free(&h);
	wn_free(&wn);
}

/* A data.noun with the given synset lines must fail with msg in the error. */
static void expect_load_error(const char *lines, const char *msg)
{
	char path[] = "wntest.XXXXXX", err[512] = "";
	int fd = mkstemp(path);
	if (fd < 0 || write(fd, lines, strlen(lines)) != (ssize_t)strlen(lines))
		diag_fatal("cannot write %s", path);
	close(fd);
	wordnet_t wn;
	int rc = wn_load(&wn, path, err, sizeof err);
	CHECK(rc != 0 && strstr(err, msg), "'%s': got rc %d, error '%s', want '%s'", lines, rc, err, msg);
	if (rc == 0)
		wn_free(&wn);
	unlink(path);
}

/* Classes whose hypernyms form a cycle or end at two roots. */
static void expect_build_error(const char *lines, uint32_t cls, const char *msg)
{
	char path[] = "wntest.XXXXXX", err[512] = "";
	int fd = mkstemp(path);
	if (fd < 0 || write(fd, lines, strlen(lines)) != (ssize_t)strlen(lines))
		diag_fatal("cannot write %s", path);
	close(fd);
	wordnet_t wn;
	wn_hier_t h;
	CHECK(wn_load(&wn, path, err, sizeof err) == 0, "%s", err);
	int rc = wn.n ? wn_hier_build(&h, &wn, &cls, 1, err, sizeof err) : -1;
	CHECK(rc != 0 && strstr(err, msg), "'%s': got rc %d, error '%s', want '%s'", lines, rc, err, msg);
	if (rc == 0)
		wn_hier_free(&h);
	wn_free(&wn);
	unlink(path);
}

static void test_malformed(void)
{
	expect_load_error("  1 only a header\n", "no synset lines");
	expect_load_error("0000100 03 n 01 x 0 000 | g\n", "synset_offset '0000100' is not 8 decimal digits");
	expect_load_error("00000100 03 v 01 x 0 000 | g\n", "ss_type 'v'");
	expect_load_error("00000100 03 n 00 x 0 000 | g\n", "w_cnt '00'");
	expect_load_error("00000100 03 n 02 x 0 000 | g\n", "lex_id '|' of word 2");
	expect_load_error("00000100 03 n 01 x 0 001 | g\n", "pointer 1: synset_offset 'g'");
	expect_load_error("00000100 03 n 01 x 0 002 @ 00000200 n 0000 | g\n", "pointer 2");
	expect_load_error("00000100 03 n 01 x 0 000 g\n", "no '|' before the gloss");
	expect_load_error("00000100 03 n 01 x 0 001 @ 00000200 n 0000 | g\n",
			  ":1: hypernym 00000200 of synset 00000100 is not in the file");
	expect_load_error("00000100 03 n 01 x 0 000 | g\n\n00000200 03 n 01 y 0 000 | g\n", ":2: empty line");
	expect_load_error("00000100 03 n 01 x 0 000 | g\n00000100 03 n 01 y 0 000 | g\n",
			  ":2: synset 00000100 already on line 1");
	expect_load_error("00000100 03 n 01 x 0 001 @ 00000200 q 0000 | g\n", "pos 'q'");
	expect_build_error("00000100 03 n 01 a 0 001 @ 00000200 n 0000 | g\n"
			   "00000200 03 n 01 b 0 001 @ 00000100 n 0000 | g\n",
			   100, "cycle");
	expect_build_error("00000100 03 n 01 a 0 002 @ 00000200 n 0000 @ 00000300 n 0000 | g\n"
			   "00000200 03 n 01 top_one 0 000 | g\n00000300 03 n 01 top_two 0 000 | g\n",
			   100, "two roots, n00000200 (top one) and n00000300 (top two)");
}

int main(void)
{
	const char *td = getenv("TESTDATA");
	if (!td)
		diag_fatal("TESTDATA is not set (run through tests/run)");
	test_hand_made(td);
	test_malformed();
	return check_report();
}
