/* clip_keys.c - CLIP checkpoints of either source under one set of names,
 * and the CLIP ResNet models by name (see clip_keys.h). */
#include "model/clip_keys.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/net.h"
#include "util/util.h"

/* ---------------------------------------------------------------- names */

int clip_keys_canonical(ckpt_t *c, clip_keys_t *info, char *err, size_t errcap)
{
	memset(info, 0, sizeof *info);
	size_t n = ckpt_count(c);
	int found = net_clip_root(c, info->root, sizeof info->root, err, errcap);
	if (found < 0)
		return -1;
	if (!found)
		return err_set(err, errcap,
			       "no CLIP tensor (logit_scale, visual.conv1.weight, token_embedding.weight) under any prefix");
	size_t root_len = strlen(info->root);

	char probe[512];
	snprintf(probe, sizeof probe, "%stext.token_embedding.weight", info->root);
	info->custom_text = ckpt_find(c, probe) != NULL;
	static const char *const openai_buffers[] = {"input_resolution", "context_length", "vocab_size"};
	int buffers = 0;
	for (size_t k = 0; k < 3; k++) {
		snprintf(probe, sizeof probe, "%s%s", info->root, openai_buffers[k]);
		buffers += ckpt_find(c, probe) != NULL;
	}
	info->openai = ckpt_format(c) == CKPT_TORCHSCRIPT || buffers == 3;

	const char **names = xcalloc(n ? n : 1, sizeof *names);
	for (size_t i = 0; i < n; i++) {
		const char *nm = ckpt_entry(c, i)->name;
		if (strncmp(nm, info->root, root_len) != 0)
			continue;
		const char *canon = nm + root_len;
		if (info->custom_text && strncmp(canon, "text.", 5) == 0)
			canon += 5;
		if (canon != nm) {
			names[i] = canon;
			info->renamed++;
		}
	}
	int rc = info->renamed ? ckpt_rename(c, names, err, errcap) : 0;
	free(names);
	if (rc != 0)
		memset(info, 0, sizeof *info);
	return rc;
}

/* ---------------------------------------------------------------- models */

typedef struct {
	const char *family, *lower; /* open_clip's name, this project's suffix (clip-rn50) */
	int text_width, embed;
	int has_quickgelu_name; /* open_clip has FAMILY-quickgelu */
} family_t;

static const family_t families[] = {
	{"RN50", "rn50", 512, 1024, 1},     {"RN101", "rn101", 512, 512, 1},   {"RN50x4", "rn50x4", 640, 640, 0},
	{"RN50x16", "rn50x16", 768, 768, 0}, {"RN50x64", "rn50x64", 1024, 1024, 0},
};
enum { NFAMILIES = sizeof families / sizeof *families };

/* open_clip's published ResNet weights besides OpenAI's (open_clip's
 * pretrained.py: the URL's file name ends in its sha256's first 8 hex
 * digits, which open_clip checks; pipelines/fetch-weights fetches them). */
static const struct {
	const char *family, *tag, *file, *sha256_prefix;
} published[] = {
	{"RN50", "yfcc15m", "rn50-quickgelu-yfcc15m-455df137.pt", "455df137"},
	{"RN50", "cc12m", "rn50-quickgelu-cc12m-f000538c.pt", "f000538c"},
	{"RN101", "yfcc15m", "rn101-quickgelu-yfcc15m-3e04b30e.pt", "3e04b30e"},
};
enum { NPUBLISHED = sizeof published / sizeof *published };

/* OpenAI's file name: "RN50.pt" ... */
static const char *openai_file(const family_t *f)
{
	static const char *const files[] = {"RN50.pt", "RN101.pt", "RN50x4.pt", "RN50x16.pt", "RN50x64.pt"};
	return files[f - families];
}

static void set_model(clip_model_t *m, const family_t *f, const char *name, text_act_t act, const char *file)
{
	memset(m, 0, sizeof *m);
	snprintf(m->name, sizeof m->name, "%s", name);
	m->family = f->family;
	m->act = act;
	m->file = file;
	m->text_width = f->text_width;
	m->embed = f->embed;
}

int clip_model_find(const char *name, clip_model_t *m)
{
	for (int i = 0; i < NFAMILIES; i++) {
		const family_t *f = &families[i];
		char own[32];
		snprintf(own, sizeof own, "clip-%s", f->lower);
		if (strcmp(name, own) == 0) {
			set_model(m, f, own, TEXT_ACT_QUICK_GELU, openai_file(f));
			return 0;
		}
		size_t fl = strlen(f->family);
		if (strncmp(name, f->family, fl) != 0)
			continue;
		const char *rest = name + fl;
		int quick = 0;
		if (f->has_quickgelu_name && strncmp(rest, "-quickgelu", 10) == 0) {
			quick = 1;
			rest += 10;
		}
		if (*rest == 0) {
			set_model(m, f, name, quick ? TEXT_ACT_QUICK_GELU : TEXT_ACT_GELU, NULL);
			return 0;
		}
		if (*rest != '/')
			continue;
		const char *tag = rest + 1;
		if (strcmp(tag, "openai") == 0) {
			set_model(m, f, name, TEXT_ACT_QUICK_GELU, openai_file(f));
			return 0;
		}
		for (int k = 0; k < NPUBLISHED; k++)
			if (strcmp(published[k].family, f->family) == 0 && strcmp(published[k].tag, tag) == 0) {
				set_model(m, f, name, TEXT_ACT_QUICK_GELU, published[k].file);
				return 0;
			}
	}
	return -1;
}

int clip_model_check_text(const clip_model_t *m, const text_shape_t *s, char *err, size_t errcap)
{
	if (s->width == m->text_width && s->embed == m->embed)
		return 0;
	for (int i = 0; i < NFAMILIES; i++)
		if (families[i].text_width == s->width && families[i].embed == s->embed)
			return err_set(err, errcap,
				       "%s's text tower is %d wide with %d-wide embeddings; this file's is %d, %d (%s's)",
				       m->name, m->text_width, m->embed, s->width, s->embed, families[i].family);
	return err_set(err, errcap, "%s's text tower is %d wide with %d-wide embeddings; this file's is %d, %d", m->name,
		       m->text_width, m->embed, s->width, s->embed);
}

int clip_model_detect(const ckpt_t *c, const clip_keys_t *info, const char *sha256, clip_model_t *m, char *err,
		      size_t errcap)
{
	text_shape_t s;
	if (text_tower_shape(c, &s, err, errcap) != 0)
		return -1;
	const family_t *f = NULL;
	for (int i = 0; i < NFAMILIES; i++)
		if (families[i].text_width == s.width && families[i].embed == s.embed)
			f = &families[i];
	for (int k = 0; sha256 && k < NPUBLISHED; k++)
		if (strncmp(sha256, published[k].sha256_prefix, strlen(published[k].sha256_prefix)) == 0) {
			char name[64];
			snprintf(name, sizeof name, "%s-quickgelu/%s", published[k].family, published[k].tag);
			if (clip_model_find(name, m) != 0 || clip_model_check_text(m, &s, err, errcap) != 0)
				return -1;
			return 0;
		}
	if (!f)
		return err_set(err, errcap,
			       "a text tower %d wide with %d-wide embeddings is none of CLIP's ResNets' (RN50 512, 1024; "
			       "RN101 512, 512; RN50x4 640; RN50x16 768; RN50x64 1024)",
			       s.width, s.embed);
	/* a ViT's text tower can have a ResNet's sizes (ViT-B/32 and RN101's are alike) */
	if (!ckpt_find(c, "visual.attnpool.c_proj.weight"))
		return err_set(err, errcap,
			       "no visual.attnpool.c_proj.weight: not one of CLIP's ResNets (a ViT, or a text tower "
			       "alone?); give --model (%s's text tower sizes)",
			       f->family);
	if (!info->openai)
		return err_set(err, errcap,
			       "a state dict of %s's sizes that does not say its text activation (not OpenAI's, nor a "
			       "published open_clip file): give --model %s%s (QuickGELU) or --model %s (GELU), as "
			       "open_clip names it",
			       f->family, f->family, f->has_quickgelu_name ? "-quickgelu" : "/openai", f->family);
	char own[32];
	snprintf(own, sizeof own, "clip-%s", f->lower);
	set_model(m, f, own, TEXT_ACT_QUICK_GELU, openai_file(f));
	return 0;
}
