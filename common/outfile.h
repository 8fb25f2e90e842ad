/* outfile.h - writing a file the user named, without destroying anything
 * that is not that file.
 *
 * Every program that writes a named file (errstats --grid, recview --npy,
 * rec_writer_open_path) goes through here, with one rule for what the name
 * may be:
 *   - a new name in an existing folder: created;
 *   - an existing regular file: replaced as a whole, its permission bits
 *     kept (written under a temporary name beside it, renamed over it at
 *     the end: a failed write leaves the old content);
 *   - a symlink: followed to the end; its target must be one of the above,
 *     and the target is replaced, the link kept (as `cmd > link` would);
 *   - anything else is refused: a folder, a FIFO (writing would block, and
 *     its reader would get a file's bytes), a device (/dev/full, /dev/sda:
 *     renaming over it would replace the device node), a socket, a symlink
 *     to nothing (creating its target is how /tmp link attacks work).
 * The temporary is TARGET.tmp.XXXXXX, made by mkstemp: never an existing
 * name, never through a link. Nothing here writes to stdout.
 */
#ifndef COMMON_OUTFILE_H
#define COMMON_OUTFILE_H

#include <stddef.h>
#include <stdio.h>
#include <sys/stat.h>

typedef struct {
	char *path;   /* the name given, for messages */
	char *target; /* the file replaced: path, or the end of its symlinks */
	char *tmp;    /* the temporary being written (a fresh regular file) */
	int fd;       /* open on tmp for writing */
	FILE *f;      /* outfile_stream's, else NULL */
} outfile_t;

/* Could path be written by the rule above? Checks the name and makes (and
 * removes) a temporary beside the target, so that a folder that is missing
 * or not writable shows before any work is done. 0, or -1 with "PATH:
 * why" in err and errno set (EISDIR, EINVAL for another kind of file, else
 * the system's: ENOENT, EACCES...). When the target exists, *st (if not NULL) gets its stat
 * (callers refuse to overwrite their own input); else st->st_ino is 0. */
int outfile_check(const char *path, struct stat *st, char *err, size_t cap);

/* Start writing path: 0 with o->fd open on the temporary, or -1 with "PATH:
 * why" in err (nothing created). */
int outfile_open(outfile_t *o, const char *path, char *err, size_t cap);
/* o->fd as a stdio stream ("wb"), made on the first call; NULL only when
 * memory runs out. */
FILE *outfile_stream(outfile_t *o);
/* Finish: flush, fsync, close and rename the temporary over the target. 0,
 * or -1 with "PATH: why" in err, the temporary removed and the target as it
 * was. o is released either way. */
int outfile_commit(outfile_t *o, char *err, size_t cap);
/* Give up: close and remove the temporary; the target is untouched. */
void outfile_abort(outfile_t *o);

#endif
