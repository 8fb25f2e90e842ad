/* ckpt.h - read published checkpoint files as a name -> tensor table.
 *
 * Formats (detected from the bytes, never the file name):
 *   CKPT_PYTORCH_ZIP    torch.save since 1.6: zip of <prefix>/data.pkl + data/<key>
 *   CKPT_TORCHSCRIPT    torch.jit.save: same container, module objects in data.pkl
 *   CKPT_PYTORCH_LEGACY torch.save(_use_new_zipfile_serialization=False)
 *   CKPT_SAFETENSORS    u64 header length + JSON header + data
 * The file is read whole into memory (not mapped: a file cut short while
 * mapped kills the process with SIGBUS); tensor data points into that copy
 * where the stored tensor is C-contiguous, else into a contiguous copy owned
 * by the table. Nothing in the file is executed or trusted: see ckpt.c.
 * Tensor data is always aligned to its element size (misaligned stored data is
 * copied), and stays valid until ckpt_free.
 */
#ifndef COMMON_CKPT_CKPT_H
#define COMMON_CKPT_CKPT_H

#include <stddef.h>

#include "util/util.h"

typedef enum {
	CKPT_PYTORCH_ZIP,
	CKPT_TORCHSCRIPT,
	CKPT_PYTORCH_LEGACY,
	CKPT_SAFETENSORS
} ckpt_format_t;

typedef struct {
	char *name; /* state-dict key, e.g. "layer1.0.conv1.weight", "visual.attnpool.q_proj.bias" */
	tensor_t t; /* contiguous C-order view, dtype as stored (float16/float32/...) */
} ckpt_entry_t;

typedef struct ckpt ckpt_t;

/* Open and index a checkpoint. NULL on failure, with one line in err naming
 * the file and what is wrong. */
ckpt_t *ckpt_open(const char *path, char *err, size_t errcap);
void ckpt_free(ckpt_t *c);

ckpt_format_t ckpt_format(const ckpt_t *c);
const char *ckpt_format_name(ckpt_format_t f);
size_t ckpt_count(const ckpt_t *c);
const ckpt_entry_t *ckpt_entry(const ckpt_t *c, size_t i); /* in file order */
const ckpt_entry_t *ckpt_find(const ckpt_t *c, const char *name);
/* New names for the entries: names[i] for entry i (NULL keeps its name), e.g.
 * a file's keys mapped to a model's own (model/clip_keys.h). All or nothing:
 * 0, or -1 with err naming the name two entries would share. */
int ckpt_rename(ckpt_t *c, const char *const *names, char *err, size_t errcap);

/* Do the first n bytes of a file (at least 16, or the whole file) look like
 * one of the formats above? 1 or 0; ckpt_open has the last word. */
int ckpt_sniff(const void *p, size_t n);

/* Added for the fuzz targets and tests: the same over bytes in memory, which
 * must stay valid and unchanged until ckpt_free. label names it in errors. */
ckpt_t *ckpt_open_mem(const void *data, size_t size, const char *label, char *err, size_t errcap);
/* Size in bytes of the file (or memory) the table was read from. */
size_t ckpt_file_size(const ckpt_t *c);
/* sha256 of those bytes, the ones the table was read from (a hash of the
 * file read again could be of another file, replaced meanwhile): 64
 * lowercase hex digits + NUL. */
void ckpt_sha256(const ckpt_t *c, char hex[65]);

/* sha256 of a whole regular file as 64 lowercase hex digits + NUL; 0 or -1
 * (errno; ESPIPE for a pipe or FIFO, which cannot be read a second time,
 * EISDIR, ENODEV for a device or socket). */
int file_sha256(const char *path, char hex[65]);

#endif
