/* wordnet.h - the WordNet 3.0 noun hierarchy (data.noun) and the part of it
 * that a set of classes spans: lowest common ancestors, heights, depths,
 * families. Used by errtree to say how far off a classifier's mistake is.
 *
 * ImageNet's wnid "n01440764" names the noun synset at offset 01440764.
 * The file format is described byte by byte at the top of wordnet.c.
 *
 * Terms used here (the class hierarchy H, built by wn_hier_build):
 *   H        the classes' synsets and every synset above them, following
 *            '@' (hypernym) and '@i' (instance hypernym) pointers. WordNet is
 *            a DAG: a synset may have several parents (dog: canine and
 *            domestic animal).
 *   height   of a node: the longest path down from it to a leaf of H (a
 *            leaf has height 0). Every leaf of H is a class. Longest (not
 *            shortest) so that a parent is always strictly higher than each
 *            of its children.
 *   depth    of a node: the shortest path up from it to the root.
 *   LCA      of two nodes: among the nodes that are ancestors of both
 *            (a node is its own ancestor), the one of least height; ties go
 *            to the smaller synset offset. In a tree this is the usual LCA;
 *            in the DAG it picks the most specific shared ancestor by height.
 * H must have exactly one root (WordNet's nouns all lead up to "entity").
 */
#ifndef COMMON_WORDNET_H
#define COMMON_WORDNET_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
	uint32_t offset;       /* synset_offset: the synset's number (wnid without the 'n') */
	uint32_t line;         /* 1-based line in data.noun, for messages */
	const char *words;     /* "dog, domestic dog, Canis familiaris": underscores as spaces */
	uint32_t name_len;     /* bytes of the first word at the start of words */
	uint32_t nparents;     /* '@' and '@i' pointers, in file order */
	uint32_t parent_first; /* parents are wordnet_t.parents[parent_first ..] */
} wn_synset_t;

typedef struct {
	char *path;
	wn_synset_t *synsets; /* [n] in ascending offset order */
	size_t n;
	uint32_t *parents; /* synset indices into synsets */
	char *text;        /* storage of every synset's words */
} wordnet_t;

/* Read a data.noun file. 0, or -1 with "PATH:LINE: what" in err. */
int wn_load(wordnet_t *wn, const char *path, char *err, size_t cap);
void wn_free(wordnet_t *wn);
/* Index of the synset with this offset, or -1. */
long wn_find(const wordnet_t *wn, uint32_t offset);
/* "n01440764" (exactly 'n' and 8 digits, n bytes) -> 1440764; -1 if not a noun wnid. */
int wn_parse_wnid(const char *s, size_t n, uint32_t *offset);

/* The class hierarchy H (terms above). Nodes are numbered 0..nnodes-1 in
 * ascending synset offset, so "smaller node" means "smaller offset". */
typedef struct {
	const wordnet_t *wn;
	int nnodes, nclasses;
	int root;         /* the one node without parents */
	uint32_t *synset; /* [nnodes] synset index in wn */
	int *class_node;  /* [nclasses] node of each class */
	int *node_class;  /* [nnodes] class of each node, or -1 */
	int *height;      /* [nnodes] longest path down to a leaf */
	int *depth;       /* [nnodes] shortest path up to the root */
	int *nunder;      /* [nnodes] classes at or below the node */
	int *par_first;   /* [nnodes+1]: parents of v are par[par_first[v] .. par_first[v+1]) */
	int *par;
	int *kid_first; /* [nnodes+1]: children, same layout */
	int *kid;
	size_t words;  /* 64-bit words per ancestor set */
	uint64_t *anc; /* [nnodes][words]: bit u of row v set when u is v or above v */
} wn_hier_t;

/* H for classes 0..n-1 whose synset offsets are offsets[0..n). Fails (with
 * a message naming the class) on an offset not in wn, two classes with the
 * same synset, a hypernym cycle, or more than one root. */
int wn_hier_build(wn_hier_t *h, const wordnet_t *wn, const uint32_t *offsets, int n, char *err, size_t cap);
void wn_hier_free(wn_hier_t *h);
/* The LCA node of nodes a and b (definition above). */
int wn_hier_lca(const wn_hier_t *h, int a, int b);
/* Is node u an ancestor of node v (or v itself)? */
int wn_hier_is_ancestor(const wn_hier_t *h, int u, int v);
/* The node's synset. */
const wn_synset_t *wn_hier_synset(const wn_hier_t *h, int node);

/* Families, for per-family tables: a partition of the classes into large
 * subtrees. For this only, H is made a tree by keeping each synset's first
 * listed hypernym (WordNet lists the main one first: dog under canine, not
 * domestic animal; wheeled vehicle under vehicle, not container). From the
 * root, the family with the most classes (ties: smaller offset) is split
 * into its children with classes, until every family that is not itself a
 * class has at most max_classes. *fam gets the family nodes (malloc'd) by
 * descending class count, ties by offset; class_fam[c] the position of
 * class c's family in *fam. Returns the number of families. With ImageNet
 * and max_classes 130, canine (118 dogs, wolves, foxes...) is one family,
 * birds another. */
int wn_hier_families(const wn_hier_t *h, int max_classes, int **fam, int *class_fam);

#endif
