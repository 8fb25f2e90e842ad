/* net.c - bind checkpoint tensors to ResNet-50 / CLIP RN50 and fold BatchNorm.
 *
 * Names (state-dict keys after the prefix):
 *   resnet50:  conv1.weight bn1.{weight,bias,running_mean,running_var}
 *              layerS.I.conv{1,2,3}.weight layerS.I.bn{1,2,3}.*
 *              layerS.0.downsample.0.weight layerS.0.downsample.1.*  fc.weight fc.bias
 *              prefix "" or "module." (DataParallel), each also under
 *              "state_dict." (the ImageNet example's checkpoints) or "model."
 *              (torchvision's reference training script); timm uses the same names.
 *   clip-rn50: conv{1,2,3}.weight bn{1,2,3}.*  layerS.I.* as above (downsample.0
 *              is the conv: the AvgPool "-1" has no tensors)
 *              attnpool.positional_embedding attnpool.{q,k,v,c}_proj.{weight,bias}
 *              prefix "visual." (whole CLIP archive; other keys are the text
 *              tower and are ignored) or "" (visual tower alone), also under
 *              "module." and "state_dict." (a fine-tuning run's checkpoint).
 * "num_batches_tracked" entries are expected and unused.
 */
#define _POSIX_C_SOURCE 200809L
#include "net.h"

#include "util/util.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const int stage_blocks[NET_STAGES] = {3, 4, 6, 3};
static const double bn_eps = 1e-5;

int net_kind_parse(const char *name, net_kind_t *kind)
{
	if (strcmp(name, "resnet50") == 0)
		*kind = MODEL_RESNET50;
	else if (strcmp(name, "clip-rn50") == 0)
		*kind = MODEL_CLIP_RN50;
	else
		return -1;
	return 0;
}

const char *net_kind_name(net_kind_t kind)
{
	return kind == MODEL_CLIP_RN50 ? "clip-rn50" : "resnet50";
}

static int str_is(const char *s, size_t len, const char *lit)
{
	return strlen(lit) == len && memcmp(s, lit, len) == 0;
}

int net_kind_for_preset(const char *preset, size_t len, net_kind_t *kind)
{
	if (str_is(preset, len, "clip"))
		*kind = MODEL_CLIP_RN50;
	else if (str_is(preset, len, "imagenet") || str_is(preset, len, "imagenet-v2"))
		*kind = MODEL_RESNET50;
	else
		return -1;
	return 0;
}

int net_preset_matches(net_kind_t kind, const char *preset, size_t len)
{
	net_kind_t k;
	return net_kind_for_preset(preset, len, &k) == 0 && k == kind;
}

int net_output_dim(const net_t *net, int features)
{
	return features ? NET_FEATURES : net->out_dim;
}

void enc_stats_timing(enc_stats_t *st, const timing_t *t)
{
	timing_summary_t s = timing_summary(t);
	st->timed_batches = s.full_batches;
	st->batch_mean_s = s.batch_mean_s;
	st->batch_std_s = s.batch_std_s;
	st->batch_min_s = s.batch_min_s;
	st->image_mean_s = s.image_mean_s;
	st->image_std_s = s.image_std_s;
}

/* ---- binding ---- */

typedef struct {
	const ckpt_t *ckpt;
	const char *prefix;
	char **expected; /* full names looked up, for the unexpected-name check */
	size_t nexpected, capexpected;
	char missing[512];   /* first few problems of each kind */
	char badshape[512];
	int nmissing, nbadshape;
	int oom;
	size_t bytes;
	int saw_fp16;
} binder_t;


/* Append "name" to a comma-separated list of the first few problems. */
static void note_add(char *list, size_t cap, int n, const char *item)
{
	if (n >= 4) {
		if (n == 4) {
			size_t l = strlen(list);
			snprintf(list + l, cap - l, ", ...");
		}
		return;
	}
	size_t l = strlen(list);
	snprintf(list + l, cap - l, "%s%s", n ? ", " : "", item);
}

static void expect_name(binder_t *b, const char *full)
{
	if (b->nexpected == b->capexpected) {
		size_t cap = b->capexpected ? 2 * b->capexpected : 512;
		char **p = realloc(b->expected, cap * sizeof *p);
		if (!p) {
			b->oom = 1;
			return;
		}
		b->expected = p;
		b->capexpected = cap;
	}
	char *dup = strdup(full);
	if (!dup) {
		b->oom = 1;
		return;
	}
	b->expected[b->nexpected++] = dup;
}

/* Look up prefix+name with shape dims[0..ndim) and return an FP32 copy
 * (malloc'd), or NULL after noting what is wrong. */
static float *bind_tensor(binder_t *b, const char *name, int ndim, const int64_t *dims)
{
	char full[256];
	snprintf(full, sizeof full, "%s%s", b->prefix, name);
	expect_name(b, full);
	const ckpt_entry_t *e = ckpt_find(b->ckpt, full);
	if (!e) {
		note_add(b->missing, sizeof b->missing, b->nmissing++, full);
		return NULL;
	}
	const tensor_t *t = &e->t;
	int same = t->ndim == ndim;
	for (int i = 0; same && i < ndim; i++)
		same = t->shape[i] == dims[i];
	int is_float = t->dtype == DTYPE_FLOAT32 || t->dtype == DTYPE_FLOAT16 ||
		       t->dtype == DTYPE_BFLOAT16 || t->dtype == DTYPE_FLOAT64;
	if (!same || !is_float) {
		char got[96], want[96], item[400];
		snprintf(item, sizeof item, "%s is %s %s, expected float %s", full, dtype_name(t->dtype),
			 tensor_shape_str(t->shape, t->ndim, got, sizeof got),
			 tensor_shape_str(dims, ndim, want, sizeof want));
		note_add(b->badshape, sizeof b->badshape, b->nbadshape++, item);
		return NULL;
	}
	size_t n = (size_t)tensor_numel(t);
	float *f = malloc((n ? n : 1) * sizeof *f);
	if (!f) {
		b->oom = 1;
		return NULL;
	}
	tensor_convert_to_f32(t->dtype, t->data, f, n);
	/* a NaN weight would not always reach the output: ReLU and max-pool
	 * can turn it into plausible numbers */
	size_t bad = 0;
	for (size_t i = 0; i < n; i++)
		bad += !isfinite(f[i]);
	if (bad) {
		char item[300];
		snprintf(item, sizeof item, "%s holds %zu NaN/Inf value%s", full, bad, bad == 1 ? "" : "s");
		note_add(b->badshape, sizeof b->badshape, b->nbadshape++, item);
		free(f);
		return NULL;
	}
	if (t->dtype == DTYPE_FLOAT16)
		b->saw_fp16 = 1;
	b->bytes += n * sizeof *f;
	return f;
}

static float *bind1(binder_t *b, const char *name, int64_t d0)
{
	return bind_tensor(b, name, 1, &d0);
}

static float *bind2(binder_t *b, const char *name, int64_t d0, int64_t d1)
{
	int64_t d[2] = {d0, d1};
	return bind_tensor(b, name, 2, d);
}

/* conv weight "<conv>.weight" + BatchNorm "<bn>.*", folded into c. */
static void bind_conv_bn(binder_t *b, net_conv_t *c, const char *conv, const char *bn, int cin, int cout, int k,
			 int stride, int pad)
{
	char name[200];
	c->cin = cin;
	c->cout = cout;
	c->kh = c->kw = k;
	c->stride = stride;
	c->pad = pad;
	int64_t wd[4] = {cout, cin, k, k};
	snprintf(name, sizeof name, "%s.weight", conv);
	c->w = bind_tensor(b, name, 4, wd);
	float *p[4];
	static const char *const bn_keys[4] = {"weight", "bias", "running_mean", "running_var"};
	for (int i = 0; i < 4; i++) {
		snprintf(name, sizeof name, "%s.%s", bn, bn_keys[i]);
		p[i] = bind1(b, name, cout);
	}
	/* Expected but unused: tracked by BN in training only. */
	snprintf(name, sizeof name, "%s%s.num_batches_tracked", b->prefix, bn);
	expect_name(b, name);
	int nonpos = 0;
	for (int o = 0; p[3] && o < cout; o++)
		nonpos += !((double)p[3][o] + bn_eps > 0);
	if (nonpos) { /* sqrt of a negative: NaN folded into every weight of the channel */
		char item[300];
		snprintf(item, sizeof item, "%s%s.running_var has %d value%s of -eps or less", b->prefix, bn, nonpos,
			 nonpos == 1 ? "" : "s");
		note_add(b->badshape, sizeof b->badshape, b->nbadshape++, item);
	}
	if (c->w && p[0] && p[1] && p[2] && p[3] && !nonpos) {
		size_t per = (size_t)cin * (size_t)k * (size_t)k;
		int big = 0;
		for (int o = 0; o < cout; o++) {
			double s = (double)p[0][o] / sqrt((double)p[3][o] + bn_eps);
			for (size_t j = 0; j < per; j++) {
				c->w[(size_t)o * per + j] = (float)((double)c->w[(size_t)o * per + j] * s);
				big |= !isfinite(c->w[(size_t)o * per + j]);
			}
			/* Reuse the beta buffer as the folded bias. */
			p[1][o] = (float)((double)p[1][o] - (double)p[2][o] * s);
			big |= !isfinite(p[1][o]);
		}
		if (big) {
			char item[300];
			snprintf(item, sizeof item, "%s%s folded into %s%s overflows float32", b->prefix, bn, b->prefix,
				 conv);
			note_add(b->badshape, sizeof b->badshape, b->nbadshape++, item);
		}
		c->b = p[1];
		p[1] = NULL;
		b->bytes -= 3 * (size_t)cout * sizeof(float);
	}
	for (int i = 0; i < 4; i++)
		free(p[i]);
}

static void bind_blocks(binder_t *b, net_t *net, int clip, int hw)
{
	int cin = 64, i = 0;
	for (int s = 0; s < NET_STAGES; s++) {
		int width = 64 << s;
		for (int j = 0; j < stage_blocks[s]; j++, i++) {
			net_block_t *k = &net->block[i];
			k->stride = (s > 0 && j == 0) ? 2 : 1;
			k->cin = cin;
			k->width = width;
			k->cout = 4 * width;
			k->hin = k->win = hw;
			int s2 = clip ? 1 : k->stride;
			char conv[64], bn[64];
			for (int c = 1; c <= 3; c++) {
				net_conv_t *cv = c == 1 ? &k->conv1 : c == 2 ? &k->conv2 : &k->conv3;
				snprintf(conv, sizeof conv, "layer%d.%d.conv%d", s + 1, j, c);
				snprintf(bn, sizeof bn, "layer%d.%d.bn%d", s + 1, j, c);
				if (c == 1)
					bind_conv_bn(b, cv, conv, bn, cin, width, 1, 1, 0);
				else if (c == 2)
					bind_conv_bn(b, cv, conv, bn, width, width, 3, s2, 1);
				else
					bind_conv_bn(b, cv, conv, bn, width, 4 * width, 1, 1, 0);
			}
			k->has_down = k->stride > 1 || cin != 4 * width;
			if (k->has_down) {
				snprintf(conv, sizeof conv, "layer%d.%d.downsample.0", s + 1, j);
				snprintf(bn, sizeof bn, "layer%d.%d.downsample.1", s + 1, j);
				bind_conv_bn(b, &k->down, conv, bn, cin, 4 * width, 1, s2, 0);
			}
			cin = 4 * width;
			hw /= k->stride;
		}
	}
}

static int has_prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

/* Which prefix the file uses: the first candidate under which probe exists. */
static const char *find_prefix(const ckpt_t *c, const char *probe, const char *const *cands, int n)
{
	for (int i = 0; i < n; i++) {
		char name[128];
		snprintf(name, sizeof name, "%s%s", cands[i], probe);
		if (ckpt_find(c, name))
			return cands[i];
	}
	return NULL;
}

int net_load(net_t *net, const ckpt_t *ckpt, net_kind_t kind, char *err, size_t errcap)
{
	memset(net, 0, sizeof *net);
	net->kind = kind;
	net->name = net_kind_name(kind);
	int clip = kind == MODEL_CLIP_RN50;
	static const char *const rn_prefixes[] = {"", "module.", "state_dict.", "state_dict.module.", "model.",
						  "model.module."};
	static const char *const clip_prefixes[] = {"visual.", "", "module.visual.", "state_dict.visual.",
						    "state_dict.module.visual."};
	/* CLIP is recognised by its head, as its stem names are torchvision's. */
	const char *prefix = clip ? find_prefix(ckpt, "attnpool.c_proj.weight", clip_prefixes, 5)
				  : find_prefix(ckpt, "conv1.weight", rn_prefixes, 6);
	if (!prefix) {
		const char *other = clip ? "fc.weight" : "visual.attnpool.c_proj.weight";
		int looks_other = ckpt_find(ckpt, other) != NULL;
		snprintf(err, errcap, "not a %s checkpoint: no %s found (%zu tensors in the file%s%s)", net->name,
			 clip ? "visual.attnpool.c_proj.weight or attnpool.c_proj.weight" : "conv1.weight",
			 ckpt_count(ckpt),
			 looks_other ? "; it looks like " : "", looks_other ? net_kind_name(clip ? MODEL_RESNET50 : MODEL_CLIP_RN50) : "");
		return -1;
	}
	binder_t b = {.ckpt = ckpt, .prefix = prefix};
	for (int s = 0; s < NET_STAGES; s++)
		net->stage_blocks[s] = stage_blocks[s];
	if (!clip) {
		static const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
		memcpy(net->mean, mean, sizeof mean);
		memcpy(net->std, std, sizeof std);
		net->out_type = "logits";
		net->out_dim = 1000;
		net->nstem = 1;
		bind_conv_bn(&b, &net->stem[0], "conv1", "bn1", 3, 64, 7, 2, 3);
		net->stem_pool = NET_STEM_MAXPOOL;
		bind_blocks(&b, net, 0, 56);
		net->head = NET_HEAD_FC;
		net->fc.in = NET_FEATURES;
		net->fc.out = 1000;
		net->fc.w = bind2(&b, "fc.weight", 1000, NET_FEATURES);
		net->fc.b = bind1(&b, "fc.bias", 1000);
	} else {
		static const float mean[3] = {0.48145466f, 0.4578275f, 0.40821073f},
				   std[3] = {0.26862954f, 0.26130258f, 0.27577711f};
		memcpy(net->mean, mean, sizeof mean);
		memcpy(net->std, std, sizeof std);
		net->out_type = "embedding";
		net->out_dim = 1024;
		net->nstem = 3;
		bind_conv_bn(&b, &net->stem[0], "conv1", "bn1", 3, 32, 3, 2, 1);
		bind_conv_bn(&b, &net->stem[1], "conv2", "bn2", 32, 32, 3, 1, 1);
		bind_conv_bn(&b, &net->stem[2], "conv3", "bn3", 32, 64, 3, 1, 1);
		net->stem_pool = NET_STEM_AVGPOOL;
		bind_blocks(&b, net, 1, 56);
		net->head = NET_HEAD_ATTNPOOL;
		net_attnpool_t *a = &net->attn;
		a->tokens = 50;
		a->dim = NET_FEATURES;
		a->heads = 32;
		a->head_dim = 64;
		a->out = 1024;
		a->pos = bind2(&b, "attnpool.positional_embedding", a->tokens, a->dim);
		a->wq = bind2(&b, "attnpool.q_proj.weight", a->dim, a->dim);
		a->bq = bind1(&b, "attnpool.q_proj.bias", a->dim);
		a->wk = bind2(&b, "attnpool.k_proj.weight", a->dim, a->dim);
		a->bk = bind1(&b, "attnpool.k_proj.bias", a->dim);
		a->wv = bind2(&b, "attnpool.v_proj.weight", a->dim, a->dim);
		a->bv = bind1(&b, "attnpool.v_proj.bias", a->dim);
		a->wc = bind2(&b, "attnpool.c_proj.weight", a->out, a->dim);
		a->bc = bind1(&b, "attnpool.c_proj.bias", a->out);
	}

	/* Tensors under the prefix that the architecture does not have: a
	 * deeper ResNet, a different head, a wrong --model. */
	char extra[512] = "";
	int nextra = 0;
	for (size_t i = 0; i < ckpt_count(ckpt) && !b.oom; i++) {
		const char *name = ckpt_entry(ckpt, i)->name;
		if (!has_prefix(name, prefix))
			continue;
		size_t j;
		for (j = 0; j < b.nexpected; j++)
			if (strcmp(b.expected[j], name) == 0)
				break;
		if (j == b.nexpected)
			note_add(extra, sizeof extra, nextra++, name);
	}
	for (size_t j = 0; j < b.nexpected; j++)
		free(b.expected[j]);
	free(b.expected);

	if (b.oom)
		snprintf(err, errcap, "out of memory binding %s weights", net->name);
	else if (b.nmissing || b.nbadshape || nextra) {
		size_t o = 0;
		o += (size_t)snprintf(err + o, o < errcap ? errcap - o : 0, "not a %s checkpoint:", net->name);
		if (b.nmissing)
			o += (size_t)snprintf(err + o, o < errcap ? errcap - o : 0, " %d missing (%s);", b.nmissing,
					      b.missing);
		if (b.nbadshape)
			o += (size_t)snprintf(err + o, o < errcap ? errcap - o : 0, " %d wrong (%s);", b.nbadshape,
					      b.badshape);
		if (nextra)
			o += (size_t)snprintf(err + o, o < errcap ? errcap - o : 0, " %d unexpected (%s);", nextra,
					      extra);
		if (o > 0 && o < errcap && err[o - 1] == ';')
			err[o - 1] = 0;
	} else {
		net->src_fp16 = b.saw_fp16;
		net->weight_bytes = b.bytes;
		return 0;
	}
	net_free(net);
	return -1;
}

static void conv_free(net_conv_t *c)
{
	free(c->w);
	free(c->b);
	c->w = c->b = NULL;
}

void net_free(net_t *net)
{
	for (int i = 0; i < NET_MAX_STEM; i++)
		conv_free(&net->stem[i]);
	for (int i = 0; i < NET_BLOCKS; i++) {
		conv_free(&net->block[i].conv1);
		conv_free(&net->block[i].conv2);
		conv_free(&net->block[i].conv3);
		conv_free(&net->block[i].down);
	}
	free(net->fc.w);
	free(net->fc.b);
	net_attnpool_t *a = &net->attn;
	float **p[] = {&a->pos, &a->wq, &a->bq, &a->wk, &a->bk, &a->wv, &a->bv, &a->wc, &a->bc};
	for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) {
		free(*p[i]);
		*p[i] = NULL;
	}
	net->fc.w = net->fc.b = NULL;
}
