/* imgtar.c - streaming tar reader (see imgtar.h).
 *
 * A tar file is a sequence of 512-byte blocks: for each member a header
 * block, then its data padded with zeros to a multiple of 512; the archive
 * ends with two all-zero blocks (one, or plain end of file, is accepted too).
 * Header block, byte offsets (POSIX ustar; GNU tar writes the same fields):
 *     0  name[100]     member name, NUL-terminated unless all 100 bytes used
 *   100  mode[8]       octal (not used here)
 *   108  uid[8], 116 gid[8]  octal (not used)
 *   124  size[12]      data size: octal digits (leading spaces/zeros, ended by
 *                      NUL or space), or base-256 when byte 124 has its high bit
 *                      set (GNU, for sizes >= 8 GiB): the other 95 bits are a
 *                      big-endian number (negative values, 0xff, are refused)
 *   136  mtime[12]     octal (not used)
 *   148  chksum[8]     octal sum of all 512 header bytes as unsigned, with
 *                      these 8 counted as spaces: checked
 *   156  typeflag      '0' or NUL regular file, '5' directory, '1' hard link,
 *                      '2' symlink, '3' '4' '6' devices/fifo, 'x' pax header
 *                      for the next member, 'g' pax global header, 'L' 'K' GNU
 *                      long name/link name for the next member
 *   157  linkname[100] (not used)
 *   257  magic[6]      "ustar\0" (POSIX) or "ustar " + version " \0" (GNU)
 *   263  version[2]    "00"
 *   265  uname[32], 297 gname[32], 329 devmajor[8], 337 devminor[8] (not used)
 *   345  prefix[155]   ustar only: the name's leading directories (full name
 *                      is prefix "/" name when the prefix is not empty)
 *   500  padding[12]
 * Extended headers ('x', 'g', 'L', 'K') are not interpreted: their data is
 * skipped and the member they describe is refused with a clear problem, so a
 * long name is never silently cut (WebDataset keys are short; Python's
 * tarfile writes no pax header for short ASCII names).
 */
#define _POSIX_C_SOURCE 200809L
#include "imgtar.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum { TAR_BLOCK = 512 };

struct img_tar {
	FILE *f;
	uint64_t pos;       /* bytes consumed */
	uint64_t file_size; /* UINT64_MAX when unknown (a pipe) */
	uint64_t max_member;
	uint64_t left, pad; /* of the current member */
	char ext_flag;      /* typeflag of an extension header for the next member, or 0 */
	char error[300];
};

static int tar_fail(img_tar_t *t, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(t->error, sizeof t->error, fmt, ap);
	va_end(ap);
	return -1;
}

int img_tar_sniff(const uint8_t *head, size_t n)
{
	return n >= 263 && memcmp(head + 257, "ustar", 5) == 0;
}

img_tar_t *img_tar_open(const char *path, uint64_t max_member_bytes)
{
	img_tar_t *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	t->f = fopen(path, "rb");
	if (!t->f) {
		int e = errno;
		free(t);
		errno = e;
		return NULL;
	}
	struct stat st;
	t->file_size = fstat(fileno(t->f), &st) == 0 && S_ISREG(st.st_mode) ? (uint64_t)st.st_size : UINT64_MAX;
	t->max_member = max_member_bytes;
	return t;
}

void img_tar_close(img_tar_t *t)
{
	if (!t)
		return;
	fclose(t->f);
	free(t);
}

const char *img_tar_error(const img_tar_t *t)
{
	return t->error;
}

static size_t read_bytes(img_tar_t *t, void *buf, size_t n)
{
	size_t k = fread(buf, 1, n, t->f);
	t->pos += k;
	return k;
}

/* An octal field: optional leading spaces, digits, then NUL/space to the end.
 * Returns 0, or -1 if it is not that. */
static int parse_octal(const uint8_t *p, size_t n, uint64_t *v)
{
	size_t i = 0;
	uint64_t x = 0;
	while (i < n && p[i] == ' ')
		i++;
	size_t digits = 0;
	for (; i < n && p[i] >= '0' && p[i] <= '7'; i++, digits++) {
		if (x >> 61)
			return -1; /* would overflow */
		x = x * 8 + (uint64_t)(p[i] - '0');
	}
	for (; i < n; i++)
		if (p[i] != 0 && p[i] != ' ')
			return -1;
	if (digits == 0)
		return -1;
	*v = x;
	return 0;
}

static int parse_size(const uint8_t *p, uint64_t *v)
{
	if (!(p[0] & 0x80))
		return parse_octal(p, 12, v);
	if (p[0] == 0xff)
		return -1; /* negative */
	uint64_t x = p[0] & 0x7f;
	for (int i = 1; i < 12; i++) {
		if (x >> 55)
			return -1;
		x = (x << 8) | p[i];
	}
	*v = x;
	return 0;
}

static int unsafe_name(const char *s)
{
	if (s[0] == '/')
		return 1;
	for (const char *p = s; *p;) {
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return 1;
		p += n + (e ? 1 : 0);
	}
	return 0;
}

int img_tar_next(img_tar_t *t, img_tar_member_t *m)
{
	memset(m, 0, sizeof *m);
	for (;;) {
		if (img_tar_skip(t) != 0)
			return -1;
		uint8_t h[TAR_BLOCK];
		uint64_t at = t->pos;
		size_t k = read_bytes(t, h, TAR_BLOCK);
		if (ferror(t->f))
			return tar_fail(t, "read error at byte %llu: %s", (unsigned long long)at, strerror(errno));
		if (k == 0)
			return 0; /* end of file without end blocks: accepted, as tar does */
		if (k < TAR_BLOCK)
			return tar_fail(t, "truncated header at byte %llu (%zu of 512 bytes)", (unsigned long long)at, k);
		int zero = 1;
		for (int i = 0; i < TAR_BLOCK && zero; i++)
			zero = h[i] == 0;
		if (zero)
			return 0;
		uint64_t sum = 0, want;
		for (int i = 0; i < TAR_BLOCK; i++)
			sum += (i >= 148 && i < 156) ? ' ' : h[i];
		if (parse_octal(h + 148, 8, &want) != 0 || want != sum)
			return tar_fail(t, "bad header checksum at byte %llu (not a tar member header)",
					(unsigned long long)at);
		uint64_t size;
		if (parse_size(h + 124, &size) != 0)
			return tar_fail(t, "bad size field at byte %llu", (unsigned long long)at);
		t->left = size;
		t->pad = (TAR_BLOCK - size % TAR_BLOCK) % TAR_BLOCK;
		char flag = (char)h[156];
		if (flag == 'x' || flag == 'g' || flag == 'L' || flag == 'K') {
			t->ext_flag = flag;
			continue; /* its data is skipped at the top of the loop */
		}
		size_t nl = strnlen((const char *)h, 100), pl = 0;
		if (memcmp(h + 257, "ustar\0", 6) == 0)
			pl = strnlen((const char *)h + 345, 155);
		if (pl) {
			memcpy(m->name, h + 345, pl);
			m->name[pl] = '/';
			pl++;
		}
		memcpy(m->name + pl, h, nl);
		m->name[pl + nl] = 0;
		if (t->file_size != UINT64_MAX && size > t->file_size - t->pos)
			return tar_fail(t, "member '%s' at byte %llu claims %llu bytes, only %llu left in the file",
					m->name, (unsigned long long)at, (unsigned long long)size,
					(unsigned long long)(t->file_size - t->pos));
		m->size = size;
		m->typeflag = flag;
		m->offset = at;
		if (t->ext_flag) {
			snprintf(m->problem, sizeof m->problem,
				 "described by a pax/GNU extended header (typeflag '%c'), which this reader does not read",
				 t->ext_flag);
			t->ext_flag = 0;
		} else if (flag != '0' && flag != 0 && flag != '5' && flag != '7') {
			snprintf(m->problem, sizeof m->problem, "not a regular file (tar typeflag '%c')",
				 flag >= 32 && flag < 127 ? flag : '?');
		} else if (unsafe_name(m->name)) {
			snprintf(m->problem, sizeof m->problem,
				 "unsafe name (absolute or with '..'): refused (nothing is extracted, but the shard is suspect)");
		} else if (size > t->max_member) {
			snprintf(m->problem, sizeof m->problem, "member too large: %llu bytes (limit %llu)",
				 (unsigned long long)size, (unsigned long long)t->max_member);
		}
		return 1;
	}
}

int img_tar_read(img_tar_t *t, void *buf, size_t n)
{
	if (n > t->left)
		return tar_fail(t, "read past the member's end");
	size_t k = read_bytes(t, buf, n);
	t->left -= k;
	if (k < n)
		return tar_fail(t, "truncated member data (%zu of %zu bytes)", k, n);
	return 0;
}

int img_tar_skip(img_tar_t *t)
{
	uint8_t buf[65536];
	uint64_t n = t->left + t->pad;
	while (n > 0) {
		size_t want = n < sizeof buf ? (size_t)n : sizeof buf;
		size_t k = read_bytes(t, buf, want);
		if (k < want) {
			t->left = t->pad = 0;
			return tar_fail(t, "truncated member data at byte %llu", (unsigned long long)t->pos);
		}
		n -= k;
	}
	t->left = t->pad = 0;
	return 0;
}
