/* test_outfile.c - common/util/outfile.c's rule for a named output file, and
 * rec_writer_open_path, which follows it: a new name and a regular file are
 * written (a symlink's target replaced, the link kept, the mode kept); a
 * FIFO, a device, a folder and a symlink to nothing are refused and left as
 * they were; a failed write leaves the old content and no temporary. Runs
 * in a fresh folder of its own under the current directory. */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* S_IFMT, mknod */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "check.h"
#include "util/util.h"
#include "stream/stream.h"

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	CHECK(f && fputs(text, f) >= 0 && fclose(f) == 0, "%s: cannot write", path);
}

static int has(const char *path, const char *text)
{
	char buf[256] = "";
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	return strcmp(buf, text) == 0;
}

/* write text to path through outfile: 0, or -1 with err */
static int write_via(const char *path, const char *text, char *err, size_t cap)
{
	outfile_t o;
	if (outfile_open(&o, path, err, cap) != 0)
		return -1;
	FILE *f = outfile_stream(&o);
	fputs(text, f);
	return outfile_commit(&o, err, cap);
}

/* no NAME.tmp.* left in the current folder */
static int no_temporaries(void)
{
	DIR *d = opendir(".");
	struct dirent *e;
	int n = 0;
	while (d && (e = readdir(d)))
		n += strstr(e->d_name, ".tmp.") != NULL;
	if (d)
		closedir(d);
	return n == 0;
}

static void refused(const char *path, const char *want, mode_t kind)
{
	char err[512] = "";
	struct stat st;
	CHECK(write_via(path, "x", err, sizeof err) == -1, "%s: written", path);
	CHECK(strstr(err, want) != NULL, "%s: message '%s', want '%s'", path, err, want);
	CHECK(outfile_check(path, NULL, err, sizeof err) == -1, "%s: check passed", path);
	CHECK(lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == kind, "%s: no longer what it was", path);
}

int main(void)
{
	char dir[] = "outfile.XXXXXX", err[512];
	if (!mkdtemp(dir) || chdir(dir) != 0) {
		perror("outfile test folder");
		return 1;
	}
	umask(022);
	struct stat st, st2;

	/* a new name, and an existing regular file replaced with its mode kept */
	CHECK(outfile_check("new.txt", &st, err, sizeof err) == 0 && st.st_ino == 0, "check new: %s", err);
	CHECK(access("new.txt", F_OK) != 0, "check created the file");
	CHECK(write_via("new.txt", "one", err, sizeof err) == 0 && has("new.txt", "one"), "new: %s", err);
	CHECK(stat("new.txt", &st) == 0 && (st.st_mode & 0777) == 0644, "new file mode %o", st.st_mode & 0777);
	CHECK(chmod("new.txt", 0600) == 0, "chmod");
	CHECK(outfile_check("new.txt", &st2, err, sizeof err) == 0 && st2.st_ino == st.st_ino, "check existing");
	CHECK(write_via("new.txt", "two", err, sizeof err) == 0 && has("new.txt", "two"), "replace: %s", err);
	CHECK(stat("new.txt", &st) == 0 && (st.st_mode & 0777) == 0600, "replaced file mode %o", st.st_mode & 0777);

	/* a symlink: the target replaced, the link kept */
	put("target.txt", "old");
	CHECK(symlink("target.txt", "link.txt") == 0, "symlink");
	CHECK(write_via("link.txt", "new", err, sizeof err) == 0, "through a link: %s", err);
	CHECK(lstat("link.txt", &st) == 0 && S_ISLNK(st.st_mode), "the link was replaced");
	CHECK(has("target.txt", "new"), "the target was not written");

	/* refused, and left as they were */
	CHECK(mkfifo("fifo", 0644) == 0, "mkfifo");
	refused("fifo", "fifo: a FIFO: only a regular file or a new name is written", S_IFIFO);
	CHECK(symlink("fifo", "link-fifo") == 0, "symlink");
	refused("link-fifo", "link-fifo: a FIFO", S_IFLNK);
	CHECK(mkdir("folder", 0755) == 0, "mkdir");
	refused("folder", "folder: is a directory", S_IFDIR);
	CHECK(symlink("nowhere/x", "dangling") == 0, "symlink");
	refused("dangling", "dangling: a symlink to a missing file", S_IFLNK);
	CHECK(access("nowhere", F_OK) != 0, "created through a dangling link");
	if (mknod("full", S_IFCHR | 0666, makedev(1, 7)) == 0) /* /dev/full's numbers, only as root */
		refused("full", "full: a character device", S_IFCHR);
	CHECK(write_via("no/such/dir/x", "x", err, sizeof err) == -1 && errno == ENOENT &&
		      strcmp(err, "no/such/dir/x: No such file or directory") == 0,
	      "missing folder: '%s'", err);
	CHECK(write_via("", "x", err, sizeof err) == -1, "an empty name written");

	/* a write that fails (over RLIMIT_FSIZE, with SIGXFSZ ignored: EFBIG)
	 * leaves the old file whole and no temporary */
	put("keep.txt", "old");
	signal(SIGXFSZ, SIG_IGN);
	struct rlimit old_lim, lim = {4096, 4096};
	getrlimit(RLIMIT_FSIZE, &old_lim);
	lim.rlim_max = old_lim.rlim_max;
	CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0, "setrlimit");
	outfile_t o;
	CHECK(outfile_open(&o, "keep.txt", err, sizeof err) == 0, "open: %s", err);
	FILE *f = outfile_stream(&o);
	for (int i = 0; i < 10000; i++)
		fputs("0123456789", f);
	CHECK(outfile_commit(&o, err, sizeof err) == -1 && strstr(err, "keep.txt: write error: File too large"),
	      "an oversize write committed: '%s'", err);
	setrlimit(RLIMIT_FSIZE, &old_lim);
	CHECK(has("keep.txt", "old"), "the old content was lost");
	CHECK(no_temporaries(), "a temporary left behind");

	/* rec_writer_open_path follows the same rule (a refusal is exit 2,
	 * so only the accepted cases run here) */
	put("rec-target.mp", "old");
	CHECK(symlink("rec-target.mp", "rec-link.mp") == 0, "symlink");
	rec_writer_t *w = rec_writer_open_path("rec-link.mp");
	rec_end(rec_begin(w, "x"));
	rec_writer_close(w);
	CHECK(lstat("rec-link.mp", &st) == 0 && S_ISLNK(st.st_mode), "rec_writer_open_path replaced the link");
	CHECK(stat("rec-target.mp", &st) == 0 && st.st_size == 8, "rec_writer_open_path: target %lld bytes",
	      (long long)st.st_size);
	CHECK(no_temporaries(), "a temporary left behind");
	return check_report();
}
