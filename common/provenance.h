/* provenance.h - what produced a stream: its header records (programs,
 * versions, argv, weights sha256, preset, precision, device, batch, label and
 * name files: whatever keys each stage wrote) and its stats records (time,
 * throughput, peak memory), kept for the reports of errstats and fpdiff.
 *
 * Records are copied (raw msgpack bytes) because a reader's records die at
 * its next call; identical headers (a stream cat'ed twice, the same stage
 * header in every shard) are kept once. Only the first PROV_KEEP distinct
 * records of each kind are kept and printed; the rest are counted (a stream
 * of a million shards' headers costs time linear in its bytes and a hash
 * per distinct record, not a comparison with every earlier one), and the
 * reports say how many were not shown. Distinct records are told apart by a
 * 64-bit hash of their bytes (SHA-256's first 8 bytes). Printing is generic over the keys found, so a stage that adds a
 * setting shows up without changes here; long lists (a header's 1000 class
 * names) are summarised by their length.
 */
#ifndef COMMON_PROVENANCE_H
#define COMMON_PROVENANCE_H

#include <msgpack.h>
#include <stdio.h>

#include "record.h"

typedef struct {
	unsigned char *raw;
	size_t len;
	msgpack_unpacked obj; /* root map of raw */
} prov_rec_t;

enum {
	PROV_KEEP = 64,          /* distinct records of each kind kept and printed */
	PROV_SEEN_MAX = 1 << 20  /* distinct records told apart, per kind: past this, each one counts */
};

typedef struct {
	uint64_t *slot; /* open addressing, 0 = empty */
	size_t cap, n;
	int full;       /* PROV_SEEN_MAX reached */
} prov_seen_t;

typedef struct {
	prov_rec_t *headers, *stats; /* the first PROV_KEEP distinct ones, in stream order */
	int nheaders, nstats;
	int64_t more_headers, more_stats; /* distinct ones past those (not kept) */
	prov_seen_t seen_headers, seen_stats; /* full (PROV_SEEN_MAX): a further record
						 counts as new, so "more" is "up to" */
} prov_t;

void prov_init(prov_t *p);
void prov_free(prov_t *p);
/* Keep rec if it is a header or a stats record; returns 1 if it was one. */
int prov_add(prov_t *p, const record_t *rec);

/* One line per header, "producer version: key=value ... | argv", then one
 * per stats record, "stats of producer: key=value ..."; a line saying how
 * many were not shown, when some were not. */
void prov_print_text(FILE *f, const prov_t *p, const char *indent);
/* {"headers": [...], "stats": [...], "headers_not_shown": N,
 * "stats_not_shown": N}; lists over 32 items become {"count": N}. */
void prov_print_json(FILE *f, const prov_t *p);
/* A msgpack value as short text (str bare, numbers %g, long lists "[N items]"). */
void prov_put_text_value(FILE *f, const msgpack_object *o);

#endif
