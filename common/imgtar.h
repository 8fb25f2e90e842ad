/* imgtar.h - a streaming reader of tar files (ustar, GNU, pax), for
 * WebDataset shards: member headers and member bytes in file order, read
 * with fread (pipes work too), nothing ever written to disk. Long names
 * come from pax "path" records and GNU 'L' headers, sizes from pax "size".
 * The byte layout it reads is described at the top of imgtar.c.
 *
 * Two kinds of trouble:
 *   - a member it refuses (absolute or '..' name, not a regular file, larger
 *     than the size limit, a malformed or oversized pax/GNU extended header,
 *     a name of IMG_TAR_NAME_MAX bytes or more) comes back from img_tar_next
 *     with problem set: the caller reports it and calls img_tar_skip, and
 *     the shard goes on;
 *   - a broken structure (truncated header, bad checksum, bad octal, a size
 *     past the end of the file, data or extended header data that ends early,
 *     a pax "size" that is not a number, no data at all, data that ends
 *     without the two zero blocks that end an archive, data after them)
 *     makes img_tar_next or img_tar_read return -1 with img_tar_error(): the
 *     rest of the shard is unreadable, or missing when img_tar_at_end().
 */
#ifndef COMMON_IMGTAR_H
#define COMMON_IMGTAR_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum { IMG_TAR_NAME_MAX = 4096 }; /* PATH_MAX: longer names (pax, GNU) are refused */

typedef struct {
	char name[IMG_TAR_NAME_MAX]; /* long name, else ustar prefix "/" name; NUL-terminated */
	uint64_t size;               /* data bytes that follow the header (pax "size" if given) */
	char typeflag;               /* '0' or '\0' regular, '5' directory, ... */
	uint64_t offset;             /* of the header in the file, for messages */
	char problem[160];           /* why the member is refused ("" if it is not) */
} img_tar_member_t;

typedef struct img_tar img_tar_t;

/* Does a file's first 512 bytes look like a tar header (ustar magic at 257)? */
int img_tar_sniff(const uint8_t *head, size_t n);
/* Open path for reading; members over max_member_bytes are refused. NULL
 * with errno set on failure. */
img_tar_t *img_tar_open(const char *path, uint64_t max_member_bytes);
void img_tar_close(img_tar_t *t);
/* The next member's header: 1, 0 at the end of the archive, -1 broken. */
int img_tar_next(img_tar_t *t, img_tar_member_t *m);
/* Read the current member's data, all m->size bytes, into buf: 0, or -1 broken. */
int img_tar_read(img_tar_t *t, void *buf, size_t n);
/* Skip what is left of the current member's data: 0, or -1 broken. */
int img_tar_skip(img_tar_t *t);
const char *img_tar_error(const img_tar_t *t);
/* Has the data ended (nothing is left to read)? */
int img_tar_at_end(const img_tar_t *t);

#endif
