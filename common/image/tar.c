/* tar.c - streaming tar reader (see image/image.h).
 *
 * A tar file is a sequence of 512-byte blocks: for each member a header
 * block, then its data padded with zeros to a multiple of 512; the archive
 * ends with two all-zero blocks, then zeros to the end of the file (tar pads
 * to 10240 bytes). Missing end blocks are a truncated archive (a shard cut at
 * a member boundary reads as a whole one otherwise: GNU tar and Python's
 * tarfile accept it), and data after them a broken one (members there, of
 * two tars concatenated, would be lost: tar reads them only with -i).
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
 * Extended headers: a header block with typeflag 'x', 'g', 'L' or 'K' (its
 * name, e.g. "././@PaxHeader" or "././@LongLink", is not used), whose data
 * (size field bytes, padded to 512) says more about the next member:
 *   'x' pax extended header (POSIX; Python's tarfile writes one for names
 *       over 100 bytes or not ASCII): records "LEN KEY=VALUE\n" back to back,
 *       LEN the decimal length of the whole record (LEN's digits, the space,
 *       KEY=VALUE and the newline). Used: "path" (the next member's name,
 *       ahead of the ustar name and prefix) and "size" (decimal, ahead of the
 *       size field, which then may be 0); other keys are ignored, a later
 *       record wins over an earlier one.
 *   'g' pax global header: ignored (its data skipped).
 *   'L' GNU long name: the data is the next member's name, NUL-terminated
 *       (and NUL-padded); 'K' GNU long link name: ignored.
 * An extended header must be followed by the member it describes (one at
 * the archive's end is a broken tar, as Python's tarfile reads it), and a
 * link, device, directory or FIFO header ('1'..'6') must say size 0: GNU
 * tar skips that many bytes of data, Python's tarfile none, so a shard
 * read otherwise would give WebDataset other samples than here.
 * A malformed 'x' record (LEN not decimal, too short or past the data, no
 * '=', no closing newline, a NUL in the path), an empty or over-long name,
 * or 'x'/'L' data over EXT_MAX bytes (not read, skipped) makes the member
 * they describe refused (problem set; named by the long name if one was read,
 * else by its ustar name); a "size" value that is not a decimal number
 * below 2^59 is a broken structure, since where the next header starts is
 * then unknown. Long names get the same checks as short ones (absolute or
 * '..' refused).
 */
#define _POSIX_C_SOURCE 200809L
#include "image/image.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/util.h"

enum {
	TAR_BLOCK = 512,
	EXT_MAX = 1 << 20 /* 'x'/'L' data read at most: far more than any name needs */
};

struct img_tar {
	FILE *f;
	uint64_t pos;       /* bytes consumed */
	uint64_t file_size; /* UINT64_MAX when unknown (a pipe) */
	uint64_t max_member;
	const char *max_member_name;
	uint64_t left, pad; /* of the current member */
	int at_end;         /* the data has ended (a short read) */
	/* what extended headers said about the next member */
	char long_name[IMG_TAR_NAME_MAX]; /* "" if none */
	int has_size;
	uint64_t ext_size;
	char ext_problem[160]; /* "" if none */
	uint64_t ext_at;       /* the last extended header not yet followed by its member */
	char ext_flag;         /* its typeflag, 0 if none */
	char error[300];
};

static int tar_fail(img_tar_t *t, const char *fmt, ...) DIAG_PRINTF(2, 3);
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

img_tar_t *img_tar_open(const char *path, uint64_t max_member_bytes, const char *limit_name)
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
	t->max_member_name = limit_name;
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
	if (k < n)
		t->at_end = 1;
	return k;
}

int img_tar_at_end(const img_tar_t *t)
{
	return t->at_end;
}

static int all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

/* After the first zero block at byte at: the second one, then zeros only
 * to the end of the data. 0 (the archive ends), or -1 with the reason. */
static int read_end(img_tar_t *t, uint64_t at)
{
	uint8_t buf[65536];
	size_t k = read_bytes(t, buf, TAR_BLOCK);
	if (ferror(t->f))
		return tar_fail(t, "read error at byte %llu: %s", (unsigned long long)t->pos, strerror(errno));
	if (k < TAR_BLOCK || !all_zero(buf, TAR_BLOCK))
		return tar_fail(t, k < TAR_BLOCK ? "truncated: one zero block at byte %llu where the archive ends with two"
						  : "a lone zero block at byte %llu, data after it (the archive ends with two)",
				(unsigned long long)at);
	for (;;) {
		uint64_t from = t->pos;
		k = read_bytes(t, buf, sizeof buf);
		if (ferror(t->f))
			return tar_fail(t, "read error at byte %llu: %s", (unsigned long long)t->pos, strerror(errno));
		for (size_t i = 0; i < k; i++)
			if (buf[i])
				return tar_fail(t,
						"data at byte %llu after the end of the archive (byte %llu): two tars "
						"joined? members there would be lost",
						(unsigned long long)(from + i), (unsigned long long)at);
		if (k < sizeof buf)
			return 0;
	}
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

static void ext_refuse(img_tar_t *t, const char *fmt, ...) DIAG_PRINTF(2, 3);
/* The next member is refused; the first reason is kept. */
static void ext_refuse(img_tar_t *t, const char *fmt, ...)
{
	if (t->ext_problem[0])
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(t->ext_problem, sizeof t->ext_problem, fmt, ap);
	va_end(ap);
}

static void set_long_name(img_tar_t *t, const char *v, size_t n, const char *what)
{
	if (n == 0)
		ext_refuse(t, "empty name in a %s", what);
	else if (n >= IMG_TAR_NAME_MAX)
		ext_refuse(t, "name of %zu bytes in a %s (limit %d)", n, what, IMG_TAR_NAME_MAX - 1);
	else if (memchr(v, 0, n))
		ext_refuse(t, "NUL byte in the name in a %s", what);
	else {
		memcpy(t->long_name, v, n);
		t->long_name[n] = 0;
	}
}

/* The records of a pax 'x' header's data d[0..n) (layout at the top): 0, or
 * -1 when a "size" value is unusable (the structure is then lost). */
static int parse_pax(img_tar_t *t, const char *d, size_t n, uint64_t at)
{
	for (size_t i = 0; i < n;) {
		size_t len = 0, j = i;
		for (; j < n && d[j] >= '0' && d[j] <= '9' && len <= n; j++)
			len = len * 10 + (size_t)(d[j] - '0');
		/* the shortest record is "LEN k=\n" */
		if (j == i || j == n || d[j] != ' ' || len > n - i || len < j - i + 4) {
			ext_refuse(t, "malformed pax record at byte %zu of the extended header at byte %llu", i,
				   (unsigned long long)at);
			return 0;
		}
		const char *kv = d + j + 1, *end = d + i + len - 1; /* end: the record's newline */
		const char *eq = memchr(kv, '=', (size_t)(end - kv));
		if (*end != '\n' || !eq || eq == kv) {
			ext_refuse(t, "malformed pax record at byte %zu of the extended header at byte %llu (%s)", i,
				   (unsigned long long)at, *end != '\n' ? "no newline at its end" : "no KEY=");
			return 0;
		}
		size_t kn = (size_t)(eq - kv), vn = (size_t)(end - eq - 1);
		if (kn == 4 && memcmp(kv, "path", 4) == 0) {
			set_long_name(t, eq + 1, vn, "pax header");
		} else if (kn == 4 && memcmp(kv, "size", 4) == 0) {
			uint64_t v = 0;
			size_t k = 0;
			for (; k < vn && eq[1 + k] >= '0' && eq[1 + k] <= '9' && !(v >> 59); k++)
				v = v * 10 + (uint64_t)(eq[1 + k] - '0');
			if (k == 0 || k < vn)
				return tar_fail(t, "pax header at byte %llu: size '%.*s' is not a decimal number below 2^59",
						(unsigned long long)at, vn > 40 ? 40 : (int)vn, eq + 1);
			t->has_size = 1;
			t->ext_size = v;
		}
		i += len;
	}
	return 0;
}

/* An 'x' or 'L' header's data (size bytes, the header at byte at): read and
 * applied to the next member, or refused when over EXT_MAX (then skipped).
 * 0, or -1 broken. */
static int read_ext(img_tar_t *t, char flag, uint64_t size, uint64_t at)
{
	const char *what = flag == 'x' ? "pax header" : "GNU long name header";
	if (size > EXT_MAX) {
		ext_refuse(t, "%s of %llu bytes at byte %llu (limit %d): not read", what, (unsigned long long)size,
			   (unsigned long long)at, EXT_MAX);
		t->left = size; /* skipped by the next img_tar_skip */
		return 0;
	}
	char *d = malloc(size ? (size_t)size : 1);
	if (!d)
		return tar_fail(t, "out of memory for a %s of %llu bytes", what, (unsigned long long)size);
	size_t k = read_bytes(t, d, (size_t)size);
	int r = 0;
	if (k < size)
		r = tar_fail(t, "truncated %s data at byte %llu (%zu of %llu bytes)", what, (unsigned long long)at, k,
			     (unsigned long long)size);
	else if (flag == 'x')
		r = parse_pax(t, d, (size_t)size, at);
	else
		set_long_name(t, d, strnlen(d, (size_t)size), what);
	free(d);
	return r;
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
		if (k == 0 && at == 0)
			return tar_fail(t, "no data at all (an empty file or pipe: a failed download?)");
		if (k == 0)
			return tar_fail(t, "truncated: the data ends at byte %llu, a member boundary, without the "
					   "end-of-archive blocks: members after it may be missing",
					(unsigned long long)at);
		if (k < TAR_BLOCK)
			return tar_fail(t, "truncated header at byte %llu (%zu of 512 bytes)", (unsigned long long)at, k);
		if (all_zero(h, TAR_BLOCK)) {
			/* Python's tarfile (so WebDataset) fails on such a shard */
			if (t->ext_flag)
				return tar_fail(t, "the extended header ('%c') at byte %llu describes no member: the "
						   "archive ends after it",
						t->ext_flag, (unsigned long long)t->ext_at);
			return read_end(t, at) == 0 ? 0 : -1;
		}
		uint64_t sum = 0, want;
		for (int i = 0; i < TAR_BLOCK; i++)
			sum += (i >= 148 && i < 156) ? ' ' : h[i];
		if (parse_octal(h + 148, 8, &want) != 0 || want != sum)
			return tar_fail(t, "bad header checksum at byte %llu (not a tar member header)",
					(unsigned long long)at);
		uint64_t size;
		if (parse_size(h + 124, &size) != 0)
			return tar_fail(t, "bad size field at byte %llu", (unsigned long long)at);
		char flag = (char)h[156];
		if (flag == 'x' || flag == 'g' || flag == 'L' || flag == 'K') {
			if (t->file_size != UINT64_MAX && size > t->file_size - t->pos)
				return tar_fail(t, "extended header at byte %llu claims %llu bytes, only %llu left in the file",
						(unsigned long long)at, (unsigned long long)size,
						(unsigned long long)(t->file_size - t->pos));
			t->pad = (TAR_BLOCK - size % TAR_BLOCK) % TAR_BLOCK;
			t->left = flag == 'g' || flag == 'K' ? size : 0; /* ignored: skipped at the top of the loop */
			t->ext_flag = flag;
			t->ext_at = at;
			if ((flag == 'x' || flag == 'L') && read_ext(t, flag, size, at) != 0)
				return -1;
			continue;
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
		if (t->long_name[0])
			memcpy(m->name, t->long_name, strlen(t->long_name) + 1);
		if (t->has_size)
			size = t->ext_size;
		/* Python's tarfile (so WebDataset) reads no data after a link,
		 * device, directory or FIFO header, GNU tar skips its size: the
		 * two would read different members from here on */
		if (flag >= '1' && flag <= '6' && size)
			return tar_fail(t, "member '%.200s' at byte %llu: a %s (tar typeflag '%c') with a size of %llu "
					   "bytes: tar readers disagree on where the next header is",
					m->name, (unsigned long long)at,
					flag == '5' ? "directory" : flag <= '2' ? "link" : "device or FIFO", flag,
					(unsigned long long)size);
		if (t->file_size != UINT64_MAX && size > t->file_size - t->pos)
			return tar_fail(t, "member '%.200s' at byte %llu claims %llu bytes, only %llu left in the file",
					m->name, (unsigned long long)at, (unsigned long long)size,
					(unsigned long long)(t->file_size - t->pos));
		t->left = size;
		t->pad = (TAR_BLOCK - size % TAR_BLOCK) % TAR_BLOCK;
		m->size = size;
		m->typeflag = flag;
		m->offset = at;
		if (t->ext_problem[0]) {
			snprintf(m->problem, sizeof m->problem, "%s", t->ext_problem);
		} else if (flag != '0' && flag != 0 && flag != '5' && flag != '7') {
			snprintf(m->problem, sizeof m->problem, "not a regular file (tar typeflag '%c')",
				 flag >= 32 && flag < 127 ? flag : '?');
		} else if (unsafe_name(m->name)) {
			snprintf(m->problem, sizeof m->problem,
				 "unsafe name (absolute or with '..'): refused (nothing is extracted, but the shard is suspect)");
		} else if (size > t->max_member) {
			snprintf(m->problem, sizeof m->problem, "member too large: %llu bytes (limit %llu: %s)",
				 (unsigned long long)size, (unsigned long long)t->max_member, t->max_member_name);
		}
		t->long_name[0] = t->ext_problem[0] = 0;
		t->has_size = 0;
		t->ext_flag = 0;
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
