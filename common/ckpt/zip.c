/* zip.c - index of a zip container (PyTorch and TorchScript archives).
 *
 * Layout read here (all integers little-endian; APPNOTE.TXT 6.3):
 *   local header, per entry, at its offset:
 *     0  u32 0x04034b50   4 u16 version   6 u16 flags   8 u16 method
 *     10 u16 time  12 u16 date  14 u32 crc  18 u32 csize  22 u32 usize
 *     26 u16 name_len  28 u16 extra_len  30 name, extra, then the data
 *   central directory entry (46 + name + extra + comment bytes):
 *     0  u32 0x02014b50   4 u16 made-by  6 u16 needed  8 u16 flags
 *     10 u16 method  12 time  14 date  16 u32 crc  20 u32 csize  24 u32 usize
 *     28 u16 name_len  30 u16 extra_len  32 u16 comment_len  34 u16 disk
 *     36 u16 int attr  38 u32 ext attr  42 u32 local header offset  46 name...
 *     A field of all ones (csize, usize, offset) is in the ZIP64 extra field
 *     (id 0x0001: usize, csize, offset, each u64, only those that overflowed).
 *   end of central directory (EOCD), in the last 22 + 65535 bytes:
 *     0 u32 0x06054b50  4 u16 disk  6 u16 cd disk  8 u16 entries here
 *     10 u16 entries  12 u32 cd size  16 u32 cd offset  20 u16 comment_len
 *   ZIP64 EOCD locator, just before the EOCD when present:
 *     0 u32 0x07064b50  4 u32 disk  8 u64 ZIP64 EOCD offset  16 u32 disks
 *   ZIP64 EOCD: 0 u32 0x06064b50  4 u64 size  12 u16 made-by  14 u16 needed
 *     16 u32 disk  20 u32 cd disk  24 u64 entries here  32 u64 entries
 *     40 u64 cd size  48 u64 cd offset
 * PyTorch writes stored (method 0) entries with data 64-byte aligned (the
 * local extra field pads). Only stored entries can be read; a compressed one is
 * refused by name when it is needed. Multi-disk archives are refused. CRCs
 * are not checked (reading every byte at open would defeat the mapping).
 */
#include <stdlib.h>
#include <string.h>

#include "ckpt/internal.h"

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
	return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

int ckpt_zip_sniff(const uint8_t *p, size_t n)
{
	return n >= 4 && p[0] == 'P' && p[1] == 'K' && ((p[2] == 3 && p[3] == 4) || (p[2] == 5 && p[3] == 6));
}

static int cmp_entry(const void *a, const void *b)
{
	const ckpt_zip_entry_t *x = a, *y = b;
	size_t m = x->name_len < y->name_len ? x->name_len : y->name_len;
	int r = memcmp(x->name, y->name, m);
	if (r)
		return r;
	return x->name_len < y->name_len ? -1 : x->name_len > y->name_len;
}

/* Find the EOCD: the last signature whose comment ends exactly at the file end
 * (a signature inside a comment would not). */
static int find_eocd(const uint8_t *p, size_t n, size_t *pos)
{
	if (n < 22)
		return -1;
	size_t lo = n > 22 + 65535 ? n - 22 - 65535 : 0;
	for (size_t i = n - 22 + 1; i-- > lo;) {
		if (rd32(p + i) == 0x06054b50 && i + 22 + rd16(p + i + 20) == n) {
			*pos = i;
			return 0;
		}
	}
	return -1;
}

/* Read the ZIP64 extra field of a central directory entry, replacing the
 * fields that are all ones. */
static int zip64_extra(const uint8_t *x, size_t xlen, uint64_t *usize, uint64_t *csize, uint64_t *off,
		       int need_u, int need_c, int need_o)
{
	size_t i = 0;
	while (i + 4 <= xlen) {
		uint16_t id = rd16(x + i), len = rd16(x + i + 2);
		if (i + 4 + len > xlen)
			return -1;
		if (id == 0x0001) {
			const uint8_t *f = x + i + 4;
			size_t k = 0;
			if (need_u) {
				if (k + 8 > len)
					return -1;
				*usize = rd64(f + k), k += 8;
			}
			if (need_c) {
				if (k + 8 > len)
					return -1;
				*csize = rd64(f + k), k += 8;
			}
			if (need_o) {
				if (k + 8 > len)
					return -1;
				*off = rd64(f + k);
			}
			return 0;
		}
		i += 4 + (size_t)len;
	}
	return need_u || need_c || need_o ? -1 : 0;
}

int ckpt_zip_open(const uint8_t *p, size_t n, ckpt_zip_t *z, char *err, size_t cap)
{
	memset(z, 0, sizeof *z);
	size_t eocd;
	if (find_eocd(p, n, &eocd) != 0) {
		err_set(err, cap, "zip: no end-of-central-directory record (truncated file?)");
		return -1;
	}
	uint64_t count = rd16(p + eocd + 10), cd_size = rd32(p + eocd + 12), cd_off = rd32(p + eocd + 16);
	if (rd16(p + eocd + 4) != 0 || rd16(p + eocd + 6) != 0) {
		err_set(err, cap, "zip: multi-disk archives are not supported");
		return -1;
	}
	if (eocd >= 20 && rd32(p + eocd - 20) == 0x07064b50) {
		uint64_t z64 = rd64(p + eocd - 20 + 8);
		if (z64 > n || n - z64 < 56 || z64 > eocd - 20 || rd32(p + z64) != 0x06064b50) {
			err_set(err, cap, "zip: ZIP64 end-of-central-directory record missing or out of bounds");
			return -1;
		}
		if (rd32(p + z64 + 16) != 0 || rd32(p + z64 + 20) != 0) {
			err_set(err, cap, "zip: multi-disk archives are not supported");
			return -1;
		}
		count = rd64(p + z64 + 32);
		cd_size = rd64(p + z64 + 40);
		cd_off = rd64(p + z64 + 48);
	}
	if (cd_off > n || cd_size > n - cd_off) {
		err_set(err, cap, "zip: central directory (offset %llu, %llu bytes) is past the end of the %zu-byte file",
			  (unsigned long long)cd_off, (unsigned long long)cd_size, n);
		return -1;
	}
	if (count > cd_size / 46 || count > CKPT_MAX_ZIP_ENTRIES) {
		err_set(err, cap, "zip: %llu entries cannot fit a %llu-byte central directory (limit %d)",
			  (unsigned long long)count, (unsigned long long)cd_size, CKPT_MAX_ZIP_ENTRIES);
		return -1;
	}
	z->e = calloc(count ? count : 1, sizeof *z->e);
	if (!z->e) {
		err_set(err, cap, "zip: out of memory");
		return -1;
	}
	const uint8_t *cd = p + cd_off;
	size_t at = 0;
	for (uint64_t i = 0; i < count; i++) {
		if (cd_size - at < 46 || rd32(cd + at) != 0x02014b50) {
			err_set(err, cap, "zip: central directory entry %llu is truncated or has a bad signature",
				  (unsigned long long)i);
			goto fail;
		}
		const uint8_t *h = cd + at;
		size_t nl = rd16(h + 28), xl = rd16(h + 30), cl = rd16(h + 32);
		if (cd_size - at - 46 < nl + xl + cl) {
			err_set(err, cap, "zip: central directory entry %llu runs past the directory",
				  (unsigned long long)i);
			goto fail;
		}
		ckpt_zip_entry_t *e = &z->e[i];
		e->name = (const char *)h + 46;
		e->name_len = nl;
		e->flags = rd16(h + 8);
		e->method = rd16(h + 10);
		uint64_t csize = rd32(h + 20), usize = rd32(h + 24), off = rd32(h + 42);
		char nm[160];
		ckpt_printable(nm, sizeof nm, e->name, nl);
		if (zip64_extra(h + 46 + nl, xl, &usize, &csize, &off, usize == 0xffffffffu, csize == 0xffffffffu,
				off == 0xffffffffu) != 0) {
			err_set(err, cap, "zip: entry '%s': bad or missing ZIP64 extra field", nm);
			goto fail;
		}
		if (off > cd_off || cd_off - off < 30 || rd32(p + off) != 0x04034b50) {
			err_set(err, cap, "zip: entry '%s': local header offset %llu is not a local header", nm,
				  (unsigned long long)off);
			goto fail;
		}
		size_t lnl = rd16(p + off + 26), lxl = rd16(p + off + 28);
		uint64_t data = off + 30 + lnl + lxl;
		if (lnl != nl || data > cd_off || memcmp(p + off + 30, e->name, nl) != 0) {
			err_set(err, cap, "zip: entry '%s': local header disagrees with the central directory", nm);
			goto fail;
		}
		if (csize > cd_off - data) {
			err_set(err, cap, "zip: entry '%s': %llu bytes of data at offset %llu run past the data area", nm,
				  (unsigned long long)csize, (unsigned long long)data);
			goto fail;
		}
		e->data_off = data;
		e->size = csize;
		e->usize = usize;
		at += 46 + nl + xl + cl;
	}
	z->n = (size_t)count;
	qsort(z->e, z->n, sizeof *z->e, cmp_entry);
	for (size_t i = 1; i < z->n; i++) {
		if (cmp_entry(&z->e[i - 1], &z->e[i]) == 0) {
			char nm[160];
			ckpt_printable(nm, sizeof nm, z->e[i].name, z->e[i].name_len);
			err_set(err, cap, "zip: entry '%s' appears twice", nm);
			goto fail;
		}
	}
	return 0;
fail:
	ckpt_zip_free(z);
	return -1;
}

void ckpt_zip_free(ckpt_zip_t *z)
{
	free(z->e);
	z->e = NULL;
	z->n = 0;
}

const ckpt_zip_entry_t *ckpt_zip_find(const ckpt_zip_t *z, const char *name, size_t len)
{
	ckpt_zip_entry_t key = {.name = name, .name_len = len};
	return z->n ? bsearch(&key, z->e, z->n, sizeof *z->e, cmp_entry) : NULL;
}

int ckpt_zip_data(const ckpt_zip_entry_t *e, const uint8_t *p, size_t n, const uint8_t **data, char *err,
		  size_t cap)
{
	char nm[160];
	ckpt_printable(nm, sizeof nm, e->name, e->name_len);
	if (e->flags & 1) {
		err_set(err, cap, "zip entry '%s' is encrypted", nm);
		return -1;
	}
	if (e->method != 0) {
		err_set(err, cap,
			  "zip entry '%s': unsupported compression method %d (only stored, uncompressed entries "
			  "can be read; PyTorch writes them stored)",
			  nm, e->method);
		return -1;
	}
	if (e->usize != e->size || e->data_off > n || e->size > n - e->data_off) {
		err_set(err, cap, "zip entry '%s': inconsistent sizes", nm);
		return -1;
	}
	*data = p + e->data_off;
	return 0;
}
