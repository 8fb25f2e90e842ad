/* ckpt.c - checkpoint files as a name -> tensor table (see ckpt/ckpt.h).
 *
 * The file is mapped read-only and its format told from its first bytes:
 *   "PK\3\4" (or an empty zip's "PK\5\6")        zip: PyTorch or TorchScript
 *   80 02 8a 0a 6c fc 9c 46 f9 20 6a a8 50 19 2e  legacy torch.save magic pickle
 *   u64 LE N, then '{' with 8 + N <= file size    safetensors
 * and the bytes are handed to the reader of that format (zip.c,
 * pickle.c, safetensors.c). Those readers trust nothing: every count,
 * offset, size and stride is checked against the file before use, and the
 * memory they may allocate is bounded (ckpt/internal.h). This file keeps the
 * table: entries in file order, the contiguous copies made for strided or
 * misaligned tensors, and a hash index for ckpt_find.
 */
#define _POSIX_C_SOURCE 200809L
#include "ckpt/ckpt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ckpt/internal.h"
#include "util/util.h"

struct ckpt {
	ckpt_format_t format;
	const uint8_t *bytes; /* the whole file */
	size_t size;
	int loaded;           /* bytes is our copy of the file (else the caller's memory) */
	ckpt_entry_t *entries;
	size_t n, cap;
	void **owned;         /* copies, freed with the table */
	size_t nowned, capowned;
	size_t owned_bytes;
	strmap_t index;       /* name -> entry */
};

void ckpt_printable(char *dst, size_t cap, const char *s, size_t n)
{
	if (cap == 0)
		return;
	size_t j = 0;
	for (size_t i = 0; i < n && j + 4 < cap; i++) {
		unsigned char ch = (unsigned char)s[i];
		dst[j++] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
	}
	if (j + 4 >= cap && j < n) {
		memcpy(dst + j, "...", 3);
		j += 3;
	}
	dst[j] = 0;
}

void ckpt_table_set_format(ckpt_t *c, ckpt_format_t f)
{
	c->format = f;
}

int ckpt_table_add(ckpt_t *c, const char *name, size_t name_len, const tensor_t *t, char *err, size_t cap)
{
	if (c->n >= CKPT_MAX_TENSORS) {
		err_set(err, cap, "more than %d tensors", CKPT_MAX_TENSORS);
		return -1;
	}
	if (memchr(name, 0, name_len)) {
		err_set(err, cap, "tensor name contains a NUL byte");
		return -1;
	}
	if (c->n == c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 64;
		ckpt_entry_t *ne = realloc(c->entries, ncap * sizeof *ne);
		if (!ne) {
			err_set(err, cap, "out of memory");
			return -1;
		}
		c->entries = ne;
		c->cap = ncap;
	}
	char *s = malloc(name_len + 1);
	if (!s) {
		err_set(err, cap, "out of memory");
		return -1;
	}
	memcpy(s, name, name_len);
	s[name_len] = 0;
	c->entries[c->n].name = s;
	c->entries[c->n].t = *t;
	c->n++;
	return 0;
}

void *ckpt_table_alloc(ckpt_t *c, size_t nbytes, char *err, size_t cap)
{
	if (nbytes > CKPT_COPY_LIMIT(c->size) || c->owned_bytes > CKPT_COPY_LIMIT(c->size) - nbytes) {
		err_set(err, cap, "strided or misaligned tensors need %zu bytes of copies, over the limit of %zu",
			  c->owned_bytes + nbytes, (size_t)CKPT_COPY_LIMIT(c->size));
		return NULL;
	}
	if (c->nowned == c->capowned) {
		size_t ncap = c->capowned ? c->capowned * 2 : 16;
		void **no = realloc(c->owned, ncap * sizeof *no);
		if (!no) {
			err_set(err, cap, "out of memory");
			return NULL;
		}
		c->owned = no;
		c->capowned = ncap;
	}
	/* calloc's alignment suits every dtype; one byte for empty tensors */
	void *p = calloc(1, nbytes ? nbytes : 1);
	if (!p) {
		err_set(err, cap, "out of memory for a %zu-byte copy", nbytes);
		return NULL;
	}
	c->owned[c->nowned++] = p;
	c->owned_bytes += nbytes;
	return p;
}

/* Copy the strided elements of t (shape t->shape) from storage into dst, C order:
 * row by row over the last dimension, one memcpy per row when it is dense. */
static void copy_strided(uint8_t *dst, const uint8_t *storage, int64_t offset, const int64_t *stride,
			 const tensor_t *t, size_t isz)
{
	int nd = t->ndim;
	if (nd == 0) {
		memcpy(dst, storage + (size_t)offset * isz, isz);
		return;
	}
	int64_t idx[TENSOR_MAX_DIMS] = {0};
	int64_t rows = tensor_numel(t) / t->shape[nd - 1];
	size_t rowlen = (size_t)t->shape[nd - 1], last = (size_t)stride[nd - 1];
	for (int64_t r = 0; r < rows; r++) {
		int64_t src = offset;
		for (int d = 0; d < nd - 1; d++)
			src += idx[d] * stride[d];
		const uint8_t *s = storage + (size_t)src * isz;
		if (last == 1 || rowlen == 1) {
			memcpy(dst, s, rowlen * isz);
		} else {
			for (size_t k = 0; k < rowlen; k++)
				memcpy(dst + k * isz, s + k * last * isz, isz);
		}
		dst += rowlen * isz;
		for (int d = nd - 2; d >= 0; d--) {
			if (++idx[d] < t->shape[d])
				break;
			idx[d] = 0;
		}
	}
}

int ckpt_table_view(ckpt_t *c, tensor_t *t, const uint8_t *storage, int64_t offset, const int64_t *stride,
		    char *err, size_t cap)
{
	size_t isz = dtype_size(t->dtype);
	int64_t numel = tensor_numel(t);
	t->nbytes = (size_t)numel * isz;
	int contiguous = 1;
	int64_t expect = 1;
	for (int d = t->ndim - 1; d >= 0; d--) {
		if (t->shape[d] != 1 && stride[d] != expect)
			contiguous = 0;
		expect *= t->shape[d];
	}
	const uint8_t *start = storage + (size_t)offset * isz;
	if (numel == 0) {
		static const uint64_t empty;
		t->data = &empty;
		return 0;
	}
	if (contiguous && (uintptr_t)start % isz == 0) {
		t->data = start;
		return 0;
	}
	uint8_t *dst = ckpt_table_alloc(c, t->nbytes, err, cap);
	if (!dst)
		return -1;
	if (contiguous)
		memcpy(dst, start, t->nbytes); /* only misaligned */
	else
		copy_strided(dst, storage, offset, stride, t, isz);
	t->data = dst;
	return 0;
}

/* Build the name index; -1 with err on a duplicate name. */
static int build_index(ckpt_t *c, char *err, size_t cap)
{
	for (size_t i = 0; i < c->n; i++) {
		if (strmap_put(&c->index, c->entries[i].name, (int64_t)i) != 0) {
			char nm[128];
			ckpt_printable(nm, sizeof nm, c->entries[i].name, strlen(c->entries[i].name));
			err_set(err, cap, "tensor name '%s' appears twice", nm);
			return -1;
		}
	}
	return 0;
}

int ckpt_sniff(const void *p, size_t n)
{
	return ckpt_zip_sniff(p, n) || ckpt_legacy_sniff(p, n) || ckpt_safetensors_sniff(p, n);
}

static int read_any(ckpt_t *c, char *err, size_t cap)
{
	const uint8_t *p = c->bytes;
	size_t n = c->size;
	if (n == 0) {
		err_set(err, cap, "empty file");
		return -1;
	}
	if (ckpt_zip_sniff(p, n))
		return ckpt_read_torch_zip(c, p, n, err, cap);
	if (ckpt_legacy_sniff(p, n))
		return ckpt_read_legacy(c, p, n, err, cap);
	if (ckpt_safetensors_sniff(p, n))
		return ckpt_read_safetensors(c, p, n, err, cap);
	err_set(err, cap,
		  "not a checkpoint this reader knows (PyTorch zip, TorchScript, legacy torch.save, safetensors)");
	return -1;
}

/* Read the table from c->bytes; on failure err gets "label: detail". */
static ckpt_t *open_bytes(ckpt_t *c, const char *label, char *err, size_t errcap)
{
	char detail[1024];
	detail[0] = 0;
	if (read_any(c, detail, sizeof detail) != 0 || build_index(c, detail, sizeof detail) != 0) {
		err_set(err, errcap, "%s: %s", label, detail[0] ? detail : "unreadable checkpoint");
		ckpt_free(c);
		return NULL;
	}
	return c;
}

/* The whole file read into memory, not mapped: a mapped file cut short
 * while it is read (cp NEW OLD over a checkpoint being loaded truncates it
 * in place) raises SIGBUS at the first page past its new end, where a read
 * is a short read, said in one line; and the bytes the table holds are the
 * ones ckpt_sha256 hashes, whatever happens to the file afterwards. */
static int read_exact(int fd, uint8_t *p, size_t n, const char *path, char *err, size_t errcap)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, p + got, n - got < ((size_t)1 << 30) ? n - got : (size_t)1 << 30);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err_set(err, errcap, "%s: read error at byte %zu: %s", path, got, strerror(errno));
			return -1;
		}
		if (r == 0) {
			err_set(err, errcap, "%s: the file shrank to %zu bytes while it was read (%zu at the start): "
					       "written by another process?",
				  path, got, n);
			return -1;
		}
		got += (size_t)r;
	}
	uint8_t more;
	ssize_t r;
	while ((r = read(fd, &more, 1)) < 0 && errno == EINTR)
		;
	if (r > 0) {
		err_set(err, errcap, "%s: the file grew past %zu bytes while it was read: written by another process?",
			  path, n);
		return -1;
	}
	return 0;
}

ckpt_t *ckpt_open(const char *path, char *err, size_t errcap)
{
	/* a regular file; a FIFO is refused, not waited on */
	int fd = file_open_input(path, 1, err, errcap);
	if (fd < 0)
		return NULL;
	struct stat st;
	if (fstat(fd, &st) != 0) {
		err_set(err, errcap, "%s: %s", path, strerror(errno));
		close(fd);
		return NULL;
	}
	ckpt_t *c = calloc(1, sizeof *c);
	void *m = NULL;
	if (!c || (st.st_size > 0 && posix_memalign(&m, 64, (size_t)st.st_size) != 0)) {
		err_set(err, errcap, "%s: out of memory for its %lld bytes", path, (long long)st.st_size);
		close(fd);
		free(c);
		return NULL;
	}
	c->size = (size_t)st.st_size;
	c->bytes = m;
	c->loaded = 1;
	if (read_exact(fd, m, c->size, path, err, errcap) != 0) {
		close(fd);
		ckpt_free(c);
		return NULL;
	}
	close(fd);
	return open_bytes(c, path, err, errcap);
}

ckpt_t *ckpt_open_mem(const void *data, size_t size, const char *label, char *err, size_t errcap)
{
	ckpt_t *c = calloc(1, sizeof *c);
	if (!c) {
		err_set(err, errcap, "%s: out of memory", label);
		return NULL;
	}
	c->bytes = data;
	c->size = size;
	return open_bytes(c, label, err, errcap);
}

void ckpt_free(ckpt_t *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		free(c->entries[i].name);
	free(c->entries);
	for (size_t i = 0; i < c->nowned; i++)
		free(c->owned[i]);
	free(c->owned);
	strmap_free(&c->index);
	if (c->loaded)
		free((void *)c->bytes);
	free(c);
}

ckpt_format_t ckpt_format(const ckpt_t *c)
{
	return c->format;
}

const char *ckpt_format_name(ckpt_format_t f)
{
	switch (f) {
	case CKPT_PYTORCH_ZIP: return "pytorch-zip";
	case CKPT_TORCHSCRIPT: return "torchscript";
	case CKPT_PYTORCH_LEGACY: return "pytorch-legacy";
	case CKPT_SAFETENSORS: return "safetensors";
	}
	return "?";
}

size_t ckpt_count(const ckpt_t *c)
{
	return c->n;
}

const ckpt_entry_t *ckpt_entry(const ckpt_t *c, size_t i)
{
	return i < c->n ? &c->entries[i] : NULL;
}

const ckpt_entry_t *ckpt_find(const ckpt_t *c, const char *name)
{
	int64_t i = strmap_get(&c->index, name);
	return i < 0 ? NULL : &c->entries[i];
}

int ckpt_rename(ckpt_t *c, const char *const *names, char *err, size_t errcap)
{
	strmap_t index;
	strmap_init(&index);
	for (size_t i = 0; i < c->n; i++) {
		const char *nm = names[i] ? names[i] : c->entries[i].name;
		if (strmap_put(&index, nm, (int64_t)i) != 0) {
			char pr[128];
			ckpt_printable(pr, sizeof pr, nm, strlen(nm));
			err_set(err, errcap, "two tensors would both be named '%s'", pr);
			strmap_free(&index);
			return -1;
		}
	}
	/* copies first: a new name may point into an old one */
	char **fresh = xcalloc(c->n ? c->n : 1, sizeof *fresh);
	for (size_t i = 0; i < c->n; i++)
		fresh[i] = names[i] ? xstrdup(names[i]) : NULL;
	for (size_t i = 0; i < c->n; i++)
		if (fresh[i]) {
			free(c->entries[i].name);
			c->entries[i].name = fresh[i];
		}
	free(fresh);
	strmap_free(&c->index);
	c->index = index;
	return 0;
}

size_t ckpt_file_size(const ckpt_t *c)
{
	return c->size;
}

void ckpt_sha256(const ckpt_t *c, char hex[65])
{
	sha256_t s;
	uint8_t d[32];
	sha256_init(&s);
	sha256_update(&s, c->bytes, c->size);
	sha256_final(&s, d);
	sha256_to_hex(d, hex);
}

int file_sha256(const char *path, char hex[65])
{
	/* the hash reads the file a second time: a pipe would give other bytes
	 * (or wait forever for a writer that is gone) */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	struct stat st;
	if (fd < 0)
		return -1;
	int why = fstat(fd, &st) != 0 ? errno
		  : S_ISREG(st.st_mode)	 ? 0
		  : S_ISDIR(st.st_mode)	 ? EISDIR
		  : S_ISFIFO(st.st_mode) ? ESPIPE
					 : ENODEV;
	if (why) {
		close(fd);
		errno = why;
		return -1;
	}
	(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	sha256_t s;
	sha256_init(&s);
	uint8_t buf[1 << 16];
	for (;;) {
		ssize_t r = read(fd, buf, sizeof buf);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			close(fd);
			errno = e;
			return -1;
		}
		if (r == 0)
			break;
		sha256_update(&s, buf, (size_t)r);
	}
	close(fd);
	uint8_t d[32];
	sha256_final(&s, d);
	sha256_to_hex(d, hex);
	return 0;
}
