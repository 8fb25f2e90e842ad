/* provenance.h - what produced a stream: its header records (programs,
 * versions, argv, weights sha256, preset, precision, device, batch, label and
 * name files: whatever keys each stage wrote) and its stats records (time,
 * throughput, peak memory), kept for the reports of errstats and fpdiff.
 *
 * Records are copied (raw msgpack bytes) because a reader's records die at
 * its next call; identical headers (a stream cat'ed twice) are kept once.
 * Printing is generic over the keys found, so a stage that adds a setting
 * shows up without changes here; long lists (a header's 1000 class names)
 * are summarised by their length.
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

typedef struct {
	prov_rec_t *headers, *stats;
	int nheaders, nstats;
} prov_t;

void prov_init(prov_t *p);
void prov_free(prov_t *p);
/* Keep rec if it is a header or a stats record; returns 1 if it was one. */
int prov_add(prov_t *p, const record_t *rec);

/* One line per header, "producer version: key=value ... | argv", then one
 * per stats record, "stats of producer: key=value ...". */
void prov_print_text(FILE *f, const prov_t *p, const char *indent);
/* {"headers": [...], "stats": [...]}; lists over 32 items become {"count": N}. */
void prov_print_json(FILE *f, const prov_t *p);
/* A msgpack value as short text (str bare, numbers %g, long lists "[N items]"). */
void prov_put_text_value(FILE *f, const msgpack_object *o);

#endif
