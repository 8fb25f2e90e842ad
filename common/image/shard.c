/* shard.c - WebDataset shards read as samples (see image.h). */
#define _POSIX_C_SOURCE 200809L
#include "image/image.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

struct img_shard {
	img_tar_t *tar;
	char *path;
	const char *base;          /* path's last component: the ids' prefix */
	img_tar_member_t pending;  /* a member read ahead: the first of the next sample */
	int have_pending;
	char *broken;              /* a broken structure met after a sample began: reported next */
	int ended;                 /* the shard's last record went out */
	uint64_t records;          /* records the shard gave so far */
	strmap_t keys;             /* the keys of its samples so far (a key met again is an error) */
	uint64_t keys_bytes, max_keys_bytes;
};

void img_sample_free(img_sample_t *s)
{
	free(s->id);
	free(s->path);
	free(s->error);
	free(s->data);
	memset(s, 0, sizeof *s);
}

int img_shard_is(const char *path, const struct stat *st)
{
	/* a pipe cannot be sniffed without losing what was read: it is taken as a tar stream */
	if (S_ISFIFO(st->st_mode))
		return 1;
	if (!S_ISREG(st->st_mode))
		return 0;
	FILE *f = fopen(path, "rb");
	if (!f)
		return 0;
	uint8_t head[512];
	size_t n = fread(head, 1, sizeof head, f);
	fclose(f);
	return img_tar_sniff(head, n);
}

img_shard_t *img_shard_open(const char *path, uint64_t max_member, const char *max_member_name,
			    uint64_t max_keys_bytes)
{
	img_tar_t *t = img_tar_open(path, max_member, max_member_name);
	if (!t)
		return NULL;
	img_shard_t *s = xcalloc(1, sizeof *s);
	s->tar = t;
	s->path = xstrdup(path);
	s->base = path_base(s->path);
	s->max_keys_bytes = max_keys_bytes;
	return s;
}

void img_shard_close(img_shard_t *s)
{
	if (!s)
		return;
	img_tar_close(s->tar);
	strmap_free(&s->keys);
	free(s->path);
	free(s->broken);
	free(s);
}

/* The key of member name m (into key), and a pointer to its extension ("" if none). */
static const char *member_key(const char *m, char *key)
{
	const char *b = path_base(m), *dot = strchr(b, '.');
	size_t n = dot ? (size_t)(dot - m) : strlen(m);
	memcpy(key, m, n);
	key[n] = 0;
	return dot ? dot + 1 : "";
}

/* The shard's last sample went out: the file is closed at once (a pipe's
 * writer stops), the keys' memory given back. */
static void finish(img_shard_t *s)
{
	img_tar_close(s->tar);
	s->tar = NULL;
	strmap_free(&s->keys);
	s->ended = 1;
}

/* The shard ends with one error record for it (id: its base name), msg. */
static void shard_error(img_shard_t *s, char *msg, img_sample_t *out)
{
	*out = (img_sample_t){.id = xstrdup(s->base), .path = xstrdup(s->path), .error = msg};
	finish(s);
}

/* The rest of the shard is unreadable, or missing when its data ended. */
static void broken_input(img_shard_t *s, const char *why, img_sample_t *out)
{
	shard_error(s,
		    img_tar_at_end(s->tar) ? xasprintf("broken tar structure: %s", why)
					   : xasprintf("broken tar structure: %s; the rest of the shard is skipped", why),
		    out);
}

static void sample_error(img_sample_t *out, char *msg)
{
	if (!out->error)
		out->error = msg;
	else
		free(msg);
}

int img_shard_next(img_shard_t *s, img_sample_t *out)
{
	memset(out, 0, sizeof *out);
	if (s->ended)
		return 0;
	if (s->broken) {
		char *why = s->broken;
		s->broken = NULL;
		broken_input(s, why, out);
		free(why);
		return 1;
	}
	char key[IMG_TAR_NAME_MAX], mkey[IMG_TAR_NAME_MAX];
	int started = 0, cls_seen = 0;
	for (;;) {
		img_tar_member_t m;
		int r = 1;
		if (s->have_pending) {
			m = s->pending;
			s->have_pending = 0;
		} else {
			r = img_tar_next(s->tar, &m);
		}
		if (r < 0 && !started) {
			broken_input(s, img_tar_error(s->tar), out);
			return 1;
		}
		if (r < 0) {
			s->broken = xstrdup(img_tar_error(s->tar));
			break;
		}
		if (r == 0 && !started && s->records == 0) {
			shard_error(s, xasprintf("no samples in this shard (only directories, or an empty tar)"), out);
			return 1;
		}
		if (r == 0) {
			finish(s);
			if (!started)
				return 0;
			break;
		}
		if (m.typeflag == '5' && !m.problem[0])
			continue;
		const char *ext = member_key(m.name, mkey);
		if (started && strcmp(mkey, key) != 0) {
			s->pending = m;
			s->have_pending = 1;
			break;
		}
		if (!started) {
			/* a key met before, after other samples: that sample went out already */
			if (strmap_put(&s->keys, mkey, (int64_t)m.offset) != 0) {
				shard_error(s,
					    xasprintf("the members of sample '%s' are not consecutive: %s at byte %llu "
						      "comes after other samples (a sample is a run of members with "
						      "its key, as WebDataset reads them: make shards with members "
						      "sorted by name); the samples before went out with the members "
						      "they had (label -1 where their .cls came later), the rest of "
						      "the shard is skipped",
						      mkey, m.name, (unsigned long long)m.offset),
					    out);
				return 1;
			}
			s->keys_bytes += strlen(mkey) + 1 + 2 * sizeof(void *) + 2 * sizeof(int64_t);
			if (s->keys_bytes > s->max_keys_bytes) {
				shard_error(s,
					    xasprintf("memory bound: its sample keys (kept to find one met again) "
						      "take more than --max-memory %llu bytes; the rest of the "
						      "shard is skipped",
						      (unsigned long long)s->max_keys_bytes),
					    out);
				return 1;
			}
			started = 1;
			memcpy(key, mkey, sizeof key);
			out->id = xasprintf("%s/%s", s->base, key);
			out->path = xasprintf("%s/%s", s->path, m.name);
		}
		int image = strcasecmp(ext, "jpg") == 0 || strcasecmp(ext, "jpeg") == 0 || strcasecmp(ext, "png") == 0;
		/* A member that cannot be read stays in its sample, so that an id
		 * gets one record: the sample fails when the member is one it needs
		 * (image, .cls), and goes on with a warning when it is one ignored
		 * anyway. Its data is skipped by the next img_tar_next. */
		if (m.problem[0]) {
			int needed = image || strcasecmp(ext, "cls") == 0;
			if (needed && !out->error) {
				if (image) {
					free(out->path);
					out->path = xasprintf("%s/%s", s->path, m.name);
				}
				sample_error(out, xasprintf("tar member: %s", m.problem));
			} else { /* the record tells the first needed one; each further one a line */
				diag_msg("%s/%s: tar member%s: %s", s->path, m.name, needed ? "" : " ignored", m.problem);
			}
			continue;
		}
		if (image && out->data) {
			sample_error(out, xasprintf("two image members for key '%s' (%s is the second)", key, m.name));
		} else if (image) {
			if (!out->error) { /* else the path names the member that failed */
				free(out->path);
				out->path = xasprintf("%s/%s", s->path, m.name);
			}
			out->data = malloc(m.size ? (size_t)m.size : 1);
			out->len = (size_t)m.size;
			if (!out->data)
				sample_error(out, xasprintf("out of memory for %llu bytes", (unsigned long long)m.size));
			else if (img_tar_read(s->tar, out->data, out->len) != 0)
				sample_error(out, xasprintf("%s", img_tar_error(s->tar)));
		} else if (strcasecmp(ext, "cls") == 0) {
			char txt[32];
			int64_t v;
			if (cls_seen++) {
				sample_error(out, xasprintf("two .cls members for key '%s' (%s is the second)", key, m.name));
			} else if (m.size >= sizeof txt) {
				sample_error(out, xasprintf("%s: %llu bytes is not a class index", m.name,
							    (unsigned long long)m.size));
			} else if (img_tar_read(s->tar, txt, (size_t)m.size) != 0) {
				sample_error(out, xasprintf("%s", img_tar_error(s->tar)));
			} else {
				size_t n = (size_t)m.size;
				while (n > 0 && (txt[n - 1] == '\n' || txt[n - 1] == '\r' || txt[n - 1] == ' '))
					n--;
				txt[n] = 0;
				if (memchr(txt, 0, n)) { /* text, as WebDataset's int() reads it */
					sample_error(out, xasprintf("%s: not a class index: the text holds a NUL byte",
								    m.name));
				} else if (parse_index(txt, &v) == 0) {
					out->has_cls = 1;
					out->cls = v;
				} else {
					sample_error(out, xasprintf("%s: not a class index: '%s'", m.name, txt));
				}
			}
		}
	}
	if (!out->error && !out->data)
		out->error = xasprintf("no image member (.jpg, .jpeg or .png) for key '%s'", key);
	if (out->error) {
		free(out->data);
		out->data = NULL;
	}
	s->records++;
	return 1;
}
