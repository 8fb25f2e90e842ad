/* test_clip_keys.c - model/clip_keys.h on small safetensors files built here
 * in memory (zero-filled tensors of the right shapes): open_clip's key
 * layouts (state_dict wrapper, "module.", text.*) renamed to CLIP's canonical
 * names with the rest left alone, the refusals (no CLIP tensor, two roots, a
 * clash), ckpt_rename's all-or-nothing, text_tower_shape's reading of the
 * sizes (layers as build_model counts them), the model names and their
 * activations, and --model auto's verdicts.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt/ckpt.h"
#include "model/clip_keys.h"
#include "model/text_encoder.h"
#include "util/util.h"
#include "check.h"

typedef struct {
	const char *name;
	int ndim;
	int64_t shape[2];
} spec_t;

/* A safetensors file of float16 zeros (malloc'd, *len bytes) holding the
 * tensors of specs (NULL-name terminated), each name prefixed by prefix
 * (but one that starts with '!', which is written without the '!'). */
static uint8_t *make_file(const char *prefix, const spec_t *specs, size_t *len)
{
	char *h = xmalloc(1 << 16);
	size_t hl = 0, off = 0;
	hl += (size_t)snprintf(h + hl, (1 << 16) - hl, "{");
	for (const spec_t *s = specs; s->name; s++) {
		size_t n = 1;
		for (int d = 0; d < s->ndim; d++)
			n *= (size_t)s->shape[d];
		int bare = s->name[0] == '!';
		hl += (size_t)snprintf(h + hl, (1 << 16) - hl, "%s\"%s%s\":{\"dtype\":\"F16\",\"shape\":[", s == specs ? "" : ",",
				       bare ? "" : prefix, s->name + bare);
		for (int d = 0; d < s->ndim; d++)
			hl += (size_t)snprintf(h + hl, (1 << 16) - hl, "%s%lld", d ? "," : "", (long long)s->shape[d]);
		hl += (size_t)snprintf(h + hl, (1 << 16) - hl, "],\"data_offsets\":[%zu,%zu]}", off, off + 2 * n);
		off += 2 * n;
	}
	hl += (size_t)snprintf(h + hl, (1 << 16) - hl, "}");
	uint8_t *buf = xcalloc(8 + hl + off + 1, 1);
	for (int i = 0; i < 8; i++)
		buf[i] = (uint8_t)((uint64_t)hl >> (8 * i));
	memcpy(buf + 8, h, hl);
	free(h);
	*len = 8 + hl + off;
	return buf;
}

/* A text tower of width W, embedding E, `layers` blocks (only ln_1.weight
 * each: enough for the shape), vocabulary 10, context 7, a visual tower's
 * attention pool when visual. */
static spec_t *tower(int W, int E, int layers, int visual, const char *text_prefix)
{
	static char names[64][96];
	static spec_t s[64];
	int n = 0;
	snprintf(names[n], sizeof names[n], "%sln_final.weight", text_prefix);
	s[n] = (spec_t){names[n], 1, {W, 0}}, n++;
	snprintf(names[n], sizeof names[n], "%stoken_embedding.weight", text_prefix);
	s[n] = (spec_t){names[n], 2, {10, W}}, n++;
	snprintf(names[n], sizeof names[n], "%spositional_embedding", text_prefix);
	s[n] = (spec_t){names[n], 2, {7, W}}, n++;
	snprintf(names[n], sizeof names[n], "%stext_projection", text_prefix);
	s[n] = (spec_t){names[n], 2, {W, E}}, n++;
	s[n++] = (spec_t){"logit_scale", 0, {0, 0}};
	for (int l = 0; l < layers; l++) {
		snprintf(names[n], sizeof names[n], "%stransformer.resblocks.%d.ln_1.weight", text_prefix, l);
		s[n] = (spec_t){names[n], 1, {W, 0}}, n++;
	}
	if (visual) {
		s[n++] = (spec_t){"visual.conv1.weight", 2, {4, 3}};
		s[n++] = (spec_t){"visual.attnpool.c_proj.weight", 2, {E, 8}};
	}
	s[n] = (spec_t){NULL, 0, {0, 0}};
	return s;
}

static ckpt_t *open_specs(const char *prefix, const spec_t *specs, uint8_t **buf)
{
	size_t len;
	char err[512];
	*buf = make_file(prefix, specs, &len);
	ckpt_t *c = ckpt_open_mem(*buf, len, "mem.safetensors", err, sizeof err);
	CHECK(c != NULL, "open: %s", err);
	return c;
}

static void test_layouts(void)
{
	char err[512];
	uint8_t *buf;
	clip_keys_t k;
	/* open_clip's training checkpoint, custom-text layout, plus an optimizer's state */
	spec_t *s = tower(64, 32, 2, 1, "text.");
	int n = 0;
	while (s[n].name)
		n++;
	s[n++] = (spec_t){"!optimizer.state.0.exp_avg", 1, {3, 0}}; /* outside the root: kept */
	s[n] = (spec_t){NULL, 0, {0, 0}};
	ckpt_t *c = open_specs("state_dict.module.", s, &buf);
	if (c) {
		CHECK(clip_keys_canonical(c, &k, err, sizeof err) == 0, "%s", err);
		CHECK(strcmp(k.root, "state_dict.module.") == 0 && k.custom_text && !k.openai && k.renamed == 9,
		      "root '%s' custom %d openai %d renamed %zu", k.root, k.custom_text, k.openai, k.renamed);
		const char *want[] = {"token_embedding.weight", "transformer.resblocks.1.ln_1.weight", "logit_scale",
				      "visual.attnpool.c_proj.weight"};
		for (size_t i = 0; i < sizeof want / sizeof *want; i++)
			CHECK(ckpt_find(c, want[i]) != NULL, "%s missing after renaming", want[i]);
		CHECK(ckpt_find(c, "state_dict.module.logit_scale") == NULL, "old name still found");
		CHECK(ckpt_find(c, "optimizer.state.0.exp_avg") != NULL, "optimizer renamed");
		text_shape_t sh;
		CHECK(text_tower_shape(c, &sh, err, sizeof err) == 0 && sh.width == 64 && sh.heads == 1 &&
			      sh.layers == 2 && sh.vocab == 10 && sh.context == 7 && sh.embed == 32,
		      "shape: %s", err);
		ckpt_free(c);
	}
	free(buf);

	/* canonical already (open_clip's bare state dict): nothing renamed */
	c = open_specs("", tower(64, 32, 1, 1, ""), &buf);
	if (c) {
		CHECK(clip_keys_canonical(c, &k, err, sizeof err) == 0 && k.renamed == 0 && k.root[0] == 0, "%s", err);
		ckpt_free(c);
	}
	free(buf);

	/* OpenAI's state dict: its three int64 buffers say so */
	s = tower(64, 32, 1, 1, "");
	n = 0;
	while (s[n].name)
		n++;
	s[n++] = (spec_t){"input_resolution", 0, {0, 0}};
	s[n++] = (spec_t){"context_length", 0, {0, 0}};
	s[n++] = (spec_t){"vocab_size", 0, {0, 0}};
	s[n] = (spec_t){NULL, 0, {0, 0}};
	c = open_specs("module.", s, &buf);
	if (c) {
		CHECK(clip_keys_canonical(c, &k, err, sizeof err) == 0 && k.openai && strcmp(k.root, "module.") == 0,
		      "%s", err);
		ckpt_free(c);
	}
	free(buf);
}

static void test_refusals(void)
{
	char err[512];
	uint8_t *buf;
	clip_keys_t k;
	/* no CLIP tensor at all (a torchvision ResNet) */
	spec_t tv[] = {{"conv1.weight", 2, {4, 3}}, {"fc.weight", 2, {10, 4}}, {NULL, 0, {0, 0}}};
	ckpt_t *c = open_specs("", tv, &buf);
	if (c) {
		CHECK(clip_keys_canonical(c, &k, err, sizeof err) == -1 && strstr(err, "no CLIP tensor"), "%s", err);
		CHECK(ckpt_find(c, "conv1.weight") != NULL, "changed");
		ckpt_free(c);
	}
	free(buf);
	/* two models in one file */
	spec_t two[] = {{"a.logit_scale", 0, {0, 0}}, {"b.logit_scale", 0, {0, 0}}, {NULL, 0, {0, 0}}};
	c = open_specs("", two, &buf);
	if (c) {
		CHECK(clip_keys_canonical(c, &k, err, sizeof err) == -1 && strstr(err, "'a.' and 'b.'"), "%s", err);
		ckpt_free(c);
	}
	free(buf);
	/* text.token_embedding.weight would take token_embedding.weight's name: refused, nothing renamed */
	spec_t clash[] = {{"text.token_embedding.weight", 2, {10, 64}},
			  {"token_embedding.weight", 2, {10, 64}},
			  {"text.ln_final.weight", 1, {64, 0}},
			  {NULL, 0, {0, 0}}};
	c = open_specs("", clash, &buf);
	if (c) {
		CHECK(clip_keys_canonical(c, &k, err, sizeof err) == -1 && strstr(err, "'token_embedding.weight'"), "%s",
		      err);
		CHECK(ckpt_find(c, "text.ln_final.weight") && !ckpt_find(c, "ln_final.weight"), "half renamed");
		ckpt_free(c);
	}
	free(buf);
	/* blocks numbered with a gap: not build_model's count */
	spec_t *s = tower(64, 32, 3, 0, "");
	for (int i = 0; s[i].name; i++)
		if (strstr(s[i].name, "resblocks.1."))
			s[i].name = "transformer.resblocks.4.ln_1.weight";
	c = open_specs("", s, &buf);
	if (c) {
		text_shape_t sh;
		CHECK(text_tower_shape(c, &sh, err, sizeof err) == -1 && strstr(err, "3 blocks numbered up to 4"), "%s",
		      err);
		ckpt_free(c);
	}
	free(buf);
}

static void test_names(void)
{
	clip_model_t m;
	struct {
		const char *name;
		int ok;
		text_act_t act;
		const char *file;
		int width, embed;
	} cases[] = {
		{"clip-rn50", 1, TEXT_ACT_QUICK_GELU, "RN50.pt", 512, 1024},
		{"clip-rn101", 1, TEXT_ACT_QUICK_GELU, "RN101.pt", 512, 512},
		{"clip-rn50x64", 1, TEXT_ACT_QUICK_GELU, "RN50x64.pt", 1024, 1024},
		{"RN50", 1, TEXT_ACT_GELU, NULL, 512, 1024},
		{"RN50-quickgelu", 1, TEXT_ACT_QUICK_GELU, NULL, 512, 1024},
		{"RN50/openai", 1, TEXT_ACT_QUICK_GELU, "RN50.pt", 512, 1024},
		{"RN50/yfcc15m", 1, TEXT_ACT_QUICK_GELU, "rn50-quickgelu-yfcc15m-455df137.pt", 512, 1024},
		{"RN50-quickgelu/cc12m", 1, TEXT_ACT_QUICK_GELU, "rn50-quickgelu-cc12m-f000538c.pt", 512, 1024},
		{"RN101-quickgelu/yfcc15m", 1, TEXT_ACT_QUICK_GELU, "rn101-quickgelu-yfcc15m-3e04b30e.pt", 512, 512},
		{"RN50x4", 1, TEXT_ACT_GELU, NULL, 640, 640},
		{"RN50x16/openai", 1, TEXT_ACT_QUICK_GELU, "RN50x16.pt", 768, 768},
		{"RN101/cc12m", 0, 0, NULL, 0, 0},  /* not published */
		{"RN50x4-quickgelu", 0, 0, NULL, 0, 0}, /* no such open_clip config */
		{"RN5", 0, 0, NULL, 0, 0},
		{"RN50x", 0, 0, NULL, 0, 0},
		{"clip-RN50", 0, 0, NULL, 0, 0},
		{"RN50/", 0, 0, NULL, 0, 0},
		{"auto", 0, 0, NULL, 0, 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		int got = clip_model_find(cases[i].name, &m) == 0;
		CHECK(got == cases[i].ok, "%s: found %d", cases[i].name, got);
		if (!got || !cases[i].ok)
			continue;
		CHECK(strcmp(m.name, cases[i].name) == 0 && m.act == cases[i].act && m.text_width == cases[i].width &&
			      m.embed == cases[i].embed &&
			      (cases[i].file ? m.file && strcmp(m.file, cases[i].file) == 0 : m.file == NULL),
		      "%s: name %s act %s file %s sizes %d %d", cases[i].name, m.name, text_act_name(m.act),
		      m.file ? m.file : "-", m.text_width, m.embed);
	}
}

static void test_detect(void)
{
	char err[512];
	uint8_t *buf;
	clip_keys_t k;
	clip_model_t m;
	/* RN101's sizes with OpenAI's buffers: clip-rn101 */
	spec_t *s = tower(512, 512, 1, 1, "");
	int n = 0;
	while (s[n].name)
		n++;
	s[n++] = (spec_t){"input_resolution", 0, {0, 0}};
	s[n++] = (spec_t){"context_length", 0, {0, 0}};
	s[n++] = (spec_t){"vocab_size", 0, {0, 0}};
	s[n] = (spec_t){NULL, 0, {0, 0}};
	ckpt_t *c = open_specs("", s, &buf);
	if (c) {
		CHECK(clip_keys_canonical(c, &k, err, sizeof err) == 0, "%s", err);
		CHECK(clip_model_detect(c, &k, NULL, &m, err, sizeof err) == 0 && strcmp(m.name, "clip-rn101") == 0 &&
			      m.act == TEXT_ACT_QUICK_GELU,
		      "%s", err);
		text_shape_t sh;
		CHECK(text_tower_shape(c, &sh, err, sizeof err) == 0, "%s", err);
		clip_model_t rn50;
		CHECK(clip_model_find("clip-rn50", &rn50) == 0 && clip_model_check_text(&rn50, &sh, err, sizeof err) == -1 &&
			      strstr(err, "(RN101's)"),
		      "%s", err);
		ckpt_free(c);
	}
	free(buf);
	/* an open_clip state dict: its activation is unknown unless the file is a published one */
	c = open_specs("module.", tower(640, 640, 1, 1, ""), &buf);
	if (c) {
		CHECK(clip_keys_canonical(c, &k, err, sizeof err) == 0, "%s", err);
		CHECK(clip_model_detect(c, &k, NULL, &m, err, sizeof err) == -1 &&
			      strstr(err, "give --model RN50x4/openai (QuickGELU) or --model RN50x4 (GELU)"),
		      "%s", err);
		ckpt_free(c);
	}
	free(buf);
	c = open_specs("", tower(512, 1024, 1, 1, ""), &buf);
	if (c) {
		CHECK(clip_keys_canonical(c, &k, err, sizeof err) == 0, "%s", err);
		const char *sha = "f000538c6c3c33c07e4fad5619f1b3d4cd591864dd3100000000000000000000";
		CHECK(clip_model_detect(c, &k, sha, &m, err, sizeof err) == 0 &&
			      strcmp(m.name, "RN50-quickgelu/cc12m") == 0 && m.act == TEXT_ACT_QUICK_GELU,
		      "%s %s", err, m.name);
		/* the hash of RN101's published file on RN50's tower: refused */
		sha = "3e04b30e00000000000000000000000000000000000000000000000000000000";
		CHECK(clip_model_detect(c, &k, sha, &m, err, sizeof err) == -1 && strstr(err, "(RN50's)"), "%s", err);
		ckpt_free(c);
	}
	free(buf);
	/* a ViT's text tower has a ResNet's sizes: without the attention pool, auto refuses */
	c = open_specs("", tower(768, 768, 1, 0, ""), &buf);
	if (c) {
		CHECK(clip_keys_canonical(c, &k, err, sizeof err) == 0, "%s", err);
		CHECK(clip_model_detect(c, &k, NULL, &m, err, sizeof err) == -1 && strstr(err, "not one of CLIP's ResNets"),
		      "%s", err);
		ckpt_free(c);
	}
	free(buf);
	/* sizes of no family */
	c = open_specs("", tower(64, 32, 1, 1, ""), &buf);
	if (c) {
		CHECK(clip_keys_canonical(c, &k, err, sizeof err) == 0, "%s", err);
		CHECK(clip_model_detect(c, &k, NULL, &m, err, sizeof err) == -1 && strstr(err, "none of CLIP's ResNets'"),
		      "%s", err);
		ckpt_free(c);
	}
	free(buf);
}

int main(void)
{
	test_layouts();
	test_refusals();
	test_names();
	test_detect();
	return check_report();
}
