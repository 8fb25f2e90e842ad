/* net.c - read a ResNet's architecture from a checkpoint, bind its tensors,
 * fold BatchNorm and write the network down as values and ops (net.h).
 *
 * Names (state-dict keys after the prefix):
 *   torchvision: conv1.weight bn1.{weight,bias,running_mean,running_var}
 *              layerS.I.conv{1,2[,3]}.weight layerS.I.bn{1,2[,3]}.*
 *              layerS.0.downsample.0.weight layerS.0.downsample.1.*  fc.weight fc.bias
 *              prefix "" or "module." (DataParallel), each also under
 *              "state_dict." (the ImageNet example's checkpoints) or "model."
 *              (torchvision's reference training script); timm uses the same names.
 *   clip:      conv{1,2,3}.weight bn{1,2,3}.*  layerS.I.* as above (downsample.0
 *              is the conv: the AvgPool "-1" has no tensors)
 *              attnpool.positional_embedding attnpool.{q,k,v,c}_proj.{weight,bias}
 *              prefix "visual." under a whole CLIP file's root (net_clip_root:
 *              "", or open_clip's "module.", "state_dict.module." ...; the text
 *              tower's keys are ignored), or "" (visual tower alone).
 * "num_batches_tracked" entries are expected and unused.
 * The architecture comes from the names and shapes as CLIP's build_model reads
 * it: blocks per stage from the layerS.I names, basic or bottleneck from conv3,
 * width from layer1.0.conv1, groups from layer1.0.conv2's input channels, the
 * classes or embedding size from the head, CLIP's input resolution from the
 * positional embedding's rows and its heads as width * 32 / 64.
 */
#define _POSIX_C_SOURCE 200809L
#include "net.h"

#include "util/util.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double bn_eps = 1e-5;

int net_output_dim(const net_t *net, int features)
{
	return features && net->features >= 0 ? net->val[net->features].c : net->out_dim;
}

size_t net_input_elems(const net_t *net)
{
	return (size_t)3 * (size_t)net->input_size * (size_t)net->input_size;
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
static void bind_conv_bn(binder_t *b, net_conv_t *c, const char *conv, const char *bn, int cin, int cout, int groups,
			 int k, int stride, int pad)
{
	char name[200];
	c->cin = cin;
	c->cout = cout;
	c->groups = groups;
	c->kh = c->kw = k;
	c->stride = stride;
	c->pad = pad;
	int64_t wd[4] = {cout, cin / groups, k, k};
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
		size_t per = (size_t)(cin / groups) * (size_t)k * (size_t)k;
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

static const char *const tv_prefixes[] = {"", "module.", "state_dict.", "state_dict.module.", "model.",
					  "model.module."};

/* ---- CLIP's root: the one prefix stripper (model/clip_keys.c uses it too) ---- */

static int ends_with(const char *s, size_t n, const char *suffix, size_t *root_len)
{
	size_t k = strlen(suffix);
	if (n < k || memcmp(s + n - k, suffix, k) != 0)
		return 0;
	if (n > k && s[n - k - 1] != '.')
		return 0; /* "xlogit_scale" is no anchor */
	*root_len = n - k;
	return 1;
}

/* The root prefix an entry name shows, or 0 when it is no anchor. */
static int anchor_root(const char *name, size_t *root_len)
{
	size_t n = strlen(name);
	return ends_with(name, n, "logit_scale", root_len) || ends_with(name, n, "visual.conv1.weight", root_len) ||
	       ends_with(name, n, "text.token_embedding.weight", root_len) ||
	       ends_with(name, n, "token_embedding.weight", root_len);
}

int net_clip_root(const ckpt_t *c, char *root, size_t cap, char *err, size_t errcap)
{
	const char *first = NULL;
	size_t first_len = 0;
	for (size_t i = 0; i < ckpt_count(c); i++) {
		const char *nm = ckpt_entry(c, i)->name;
		size_t rl;
		if (!anchor_root(nm, &rl))
			continue;
		if (!first) {
			first = nm;
			first_len = rl;
		} else if (rl != first_len || memcmp(nm, first, rl) != 0) {
			char a[96], b[96];
			snprintf(a, sizeof a, "%.*s", (int)(first_len < 80 ? first_len : 80), first);
			snprintf(b, sizeof b, "%.*s", (int)(rl < 80 ? rl : 80), nm);
			snprintf(err, errcap, "CLIP tensors under two prefixes, '%s' and '%s': which is the model?", a, b);
			return -1;
		}
	}
	if (!first)
		return 0;
	/* the longest name looked up under it must still fit the binder's 256 bytes */
	if (first_len >= cap || first_len > NET_CLIP_ROOT_MAX) {
		snprintf(err, errcap, "CLIP tensors under a prefix of %zu bytes", first_len);
		return -1;
	}
	memcpy(root, first, first_len);
	root[first_len] = 0;
	return 1;
}

static const tensor_t *find_t(const ckpt_t *c, const char *prefix, const char *name)
{
	char full[256];
	snprintf(full, sizeof full, "%s%s", prefix, name);
	const ckpt_entry_t *e = ckpt_find(c, full);
	return e ? &e->t : NULL;
}

/* Architecture and prefix (into prefix[NET_PREFIX_CAP]) from names and
 * shapes; 0, or -1 with err. */
static int probe(const ckpt_t *c, net_arch_t *a, char *prefix, char *err, size_t errcap)
{
	memset(a, 0, sizeof *a);
	/* CLIP is recognised by its head, as its stem names are torchvision's:
	 * visual.* under a whole CLIP file's root (net_clip_root), or the visual
	 * tower alone without a prefix */
	const char *p = NULL;
	int r = net_clip_root(c, prefix, NET_PREFIX_CAP, err, errcap);
	if (r < 0)
		return -1;
	if (r > 0) { /* the root is at most NET_CLIP_ROOT_MAX: "visual." fits */
		memcpy(prefix + strlen(prefix), "visual.", 8);
		if (find_t(c, prefix, "attnpool.c_proj.weight"))
			p = prefix;
	}
	if (!p && find_t(c, "", "attnpool.c_proj.weight"))
		p = "";
	a->family = NET_CLIP;
	if (!p) {
		p = find_prefix(c, "fc.weight", tv_prefixes, 6);
		a->family = NET_TORCHVISION;
	}
	if (p && p != prefix)
		snprintf(prefix, NET_PREFIX_CAP, "%s", p);
	if (!p || !find_t(c, p, "layer1.0.conv1.weight")) {
		const char *first = ckpt_count(c) ? ckpt_entry(c, 0)->name : "none";
		size_t len = strlen(first);
		if (len > 80) /* cut at a character boundary: the line stays UTF-8 */
			for (len = 80; len > 0 && ((unsigned char)first[len] & 0xc0) == 0x80;)
				len--;
		snprintf(err, errcap,
			 "not a ResNet of a known family: no torchvision ResNet (conv1.weight, layer1.0.conv1.weight, "
			 "fc.weight) or CLIP ModifiedResNet (visual.attnpool.c_proj.weight) found among its %zu tensors "
			 "(the first is %.*s)",
			 ckpt_count(c), (int)len, first);
		return -1;
	}
	p = prefix;
	for (int s = 0; s < NET_STAGES; s++) {
		char name[64];
		for (;; a->depths[s]++) {
			snprintf(name, sizeof name, "layer%d.%d.conv1.weight", s + 1, a->depths[s]);
			if (!find_t(c, p, name))
				break;
		}
		/* No published ResNet has over 36 blocks in a stage; a file naming
		 * thousands would cost gigabytes in binding before its refusal. */
		if (a->depths[s] > NET_MAX_BLOCKS) {
			snprintf(err, errcap, "%slayer%d has %d blocks: no ResNet has more than %d in a stage", p, s + 1,
				 a->depths[s], NET_MAX_BLOCKS);
			return -1;
		}
		if (a->depths[s] == 0) {
			snprintf(err, errcap, "a ResNet without %slayer%d.0.conv1.weight: stage %d is missing", p, s + 1,
				 s + 1);
			return -1;
		}
	}
	const tensor_t *c1 = find_t(c, p, "layer1.0.conv1.weight"), *c2 = find_t(c, p, "layer1.0.conv2.weight");
	const tensor_t *head = find_t(c, p, a->family == NET_CLIP ? "attnpool.c_proj.weight" : "fc.weight");
	a->bottleneck = find_t(c, p, "layer1.0.conv3.weight") != NULL;
	if (c1->ndim != 4 || !c2 || c2->ndim != 4 || head->ndim != 2 || c1->shape[0] < 1 || c2->shape[1] < 1 ||
	    c1->shape[0] > 65536 || head->shape[0] < 1 || head->shape[0] > 1 << 20) {
		snprintf(err, errcap, "%slayer1.0.conv1/conv2 or the head have shapes no ResNet has", p);
		return -1;
	}
	a->width = (int)c1->shape[0];
	a->groups = 1;
	if (a->bottleneck && c2->shape[1] != a->width) {
		if (a->width % c2->shape[1] != 0) {
			snprintf(err, errcap, "%slayer1.0.conv2.weight has %lld input channels, which do not divide its width %d",
				 p, (long long)c2->shape[1], a->width);
			return -1;
		}
		a->groups = (int)(a->width / c2->shape[1]);
	}
	/* Only what the families build: CLIP's ModifiedResNet has ungrouped
	 * bottlenecks; torchvision's BasicBlock refuses groups != 1 or a width
	 * other than 64. */
	if (a->family == NET_CLIP && !a->bottleneck) {
		snprintf(err, errcap, "a CLIP ModifiedResNet with basic blocks (no %slayer1.0.conv3.weight): "
			 "CLIP builds bottleneck blocks only", p);
		return -1;
	}
	if (a->family == NET_CLIP && a->groups != 1) {
		snprintf(err, errcap, "a CLIP ModifiedResNet with grouped convolutions (%slayer1.0.conv2 in %d groups): "
			 "CLIP's blocks have none", p, a->groups);
		return -1;
	}
	if (!a->bottleneck && (a->width != 64 || c2->shape[1] != a->width)) {
		snprintf(err, errcap, "a torchvision BasicBlock ResNet of width %d, its %slayer1.0.conv2 taking %lld channels: "
			 "torchvision builds them with width 64 and groups 1 (64 channels) only", a->width, p,
			 (long long)c2->shape[1]);
		return -1;
	}
	a->out_dim = (int)head->shape[0];
	if (a->family == NET_TORCHVISION) {
		a->input = 224;
		return 0;
	}
	const tensor_t *pos = find_t(c, p, "attnpool.positional_embedding");
	if (!pos || pos->ndim != 2 || pos->shape[0] < 2 || pos->shape[0] > 1 + 256 * 256) {
		snprintf(err, errcap, "%sattnpool.positional_embedding is missing or not [1 + g*g][dim]", p);
		return -1;
	}
	int g = (int)lround(sqrt((double)(pos->shape[0] - 1)));
	if ((int64_t)g * g + 1 != pos->shape[0]) {
		snprintf(err, errcap, "%sattnpool.positional_embedding has %lld rows, not 1 + a square", p,
			 (long long)pos->shape[0]);
		return -1;
	}
	a->input = g * 32;
	a->heads = a->width * 32 / 64;
	if (a->heads < 1) {
		snprintf(err, errcap, "%slayer1.0.conv1 is %d wide: CLIP's attention pool would have no heads", p, a->width);
		return -1;
	}
	return 0;
}

int net_probe(const ckpt_t *ckpt, net_arch_t *arch, char *err, size_t errcap)
{
	char prefix[NET_PREFIX_CAP];
	return probe(ckpt, arch, prefix, err, errcap);
}

/* ---- the description ---- */

typedef struct {
	net_t *net;
	binder_t *b;
	int capval, capop, capconv;
	int oom;
} build_t;

static int val_new(build_t *B, int c, int h, int w)
{
	net_t *n = B->net;
	if (n->nval == B->capval) {
		B->capval = B->capval ? 2 * B->capval : 64;
		n->val = xrealloc(n->val, (size_t)B->capval * sizeof *n->val);
	}
	n->val[n->nval] = (net_val_t){c, h, w};
	return n->nval++;
}

static net_op_t *op_new(build_t *B, net_op_kind_t kind, const char *name, int in)
{
	net_t *n = B->net;
	if (n->nop == B->capop) {
		B->capop = B->capop ? 2 * B->capop : 64;
		n->op = xrealloc(n->op, (size_t)B->capop * sizeof *n->op);
	}
	net_op_t *o = &n->op[n->nop++];
	memset(o, 0, sizeof *o);
	o->kind = kind;
	snprintf(o->name, sizeof o->name, "%s", name);
	o->in = in;
	o->res = -1;
	o->conv = -1;
	return o;
}

/* conv + BN under names "<conv>.weight", "<bn>.*"; returns the output value. */
static int add_conv(build_t *B, const char *name, const char *conv, const char *bn, int in, int cout, int groups,
		    int k, int stride, int pad, int relu, int res)
{
	net_t *n = B->net;
	if (n->nconv == B->capconv) {
		B->capconv = B->capconv ? 2 * B->capconv : 64;
		n->conv = xrealloc(n->conv, (size_t)B->capconv * sizeof *n->conv);
	}
	net_conv_t *c = &n->conv[n->nconv];
	memset(c, 0, sizeof *c);
	net_val_t x = n->val[in];
	bind_conv_bn(B->b, c, conv, bn, x.c, cout, groups, k, stride, pad);
	int out = val_new(B, cout, (x.h + 2 * pad - k) / stride + 1, (x.w + 2 * pad - k) / stride + 1);
	net_op_t *o = op_new(B, NET_OP_CONV, name, in);
	o->conv = n->nconv++;
	o->out = out;
	o->relu = relu;
	o->res = res;
	return out;
}

static int add_pool(build_t *B, net_op_kind_t kind, const char *name, int in, int k, int stride, int pad)
{
	net_val_t x = B->net->val[in];
	int out = val_new(B, x.c, (x.h + 2 * pad - k) / stride + 1, (x.w + 2 * pad - k) / stride + 1);
	net_op_t *o = op_new(B, kind, name, in);
	o->out = out;
	o->k = k;
	o->stride = stride;
	o->pad = pad;
	return out;
}

/* One block: layer<s+1>.<j>; returns its output value. */
static int add_block(build_t *B, int s, int j, int x)
{
	const net_arch_t *a = &B->net->arch;
	int clip = a->family == NET_CLIP, stride = s > 0 && j == 0 ? 2 : 1;
	int width = a->width << s;
	int cout = !a->bottleneck ? 64 << s : clip ? 4 * width : 256 << s;
	char L[32], nm[64], cv[64], bn[64];
	snprintf(L, sizeof L, "layer%d.%d", s + 1, j);
#define NAMES(conv_, bn_)                                          \
	(snprintf(nm, sizeof nm, "%s.%s", L, conv_), snprintf(cv, sizeof cv, "%s.%s", L, conv_), \
	 snprintf(bn, sizeof bn, "%s.%s", L, bn_))
	int cin = B->net->val[x].c;
	int y;
	if (!a->bottleneck) {
		NAMES("conv1", "bn1");
		y = add_conv(B, nm, cv, bn, x, width, 1, 3, stride, 1, 1, -1);
	} else {
		NAMES("conv1", "bn1");
		y = add_conv(B, nm, cv, bn, x, width, 1, 1, 1, 0, 1, -1);
		NAMES("conv2", "bn2");
		y = add_conv(B, nm, cv, bn, y, width, a->groups, 3, clip ? 1 : stride, 1, 1, -1);
		if (clip && stride > 1) {
			snprintf(nm, sizeof nm, "%s.avgpool", L);
			y = add_pool(B, NET_OP_AVGPOOL, nm, y, stride, stride, 0);
		}
	}
	int r = x;
	if (stride > 1 || cin != cout) {
		int d = x;
		if (clip && stride > 1) {
			snprintf(nm, sizeof nm, "%s.downsample.avgpool", L);
			d = add_pool(B, NET_OP_AVGPOOL, nm, x, stride, stride, 0);
		}
		snprintf(nm, sizeof nm, "%s.downsample", L);
		snprintf(cv, sizeof cv, "%s.downsample.0", L);
		snprintf(bn, sizeof bn, "%s.downsample.1", L);
		r = add_conv(B, nm, cv, bn, d, cout, 1, 1, clip ? 1 : stride, 0, 0, -1);
	}
	if (!a->bottleneck)
		NAMES("conv2", "bn2");
	else
		NAMES("conv3", "bn3");
	return add_conv(B, nm, cv, bn, y, cout, 1, a->bottleneck ? 1 : 3, 1, a->bottleneck ? 0 : 1, 1, r);
#undef NAMES
}

static void build(build_t *B)
{
	net_t *net = B->net;
	binder_t *b = B->b;
	const net_arch_t *a = &net->arch;
	int S = a->input;
	int x = val_new(B, 3, S, S);
	if (a->family == NET_TORCHVISION) {
		x = add_conv(B, "conv1", "conv1", "bn1", x, 64, 1, 7, 2, 3, 1, -1);
		x = add_pool(B, NET_OP_MAXPOOL, "maxpool", x, 3, 2, 1);
	} else {
		x = add_conv(B, "conv1", "conv1", "bn1", x, a->width / 2, 1, 3, 2, 1, 1, -1);
		x = add_conv(B, "conv2", "conv2", "bn2", x, a->width / 2, 1, 3, 1, 1, 1, -1);
		x = add_conv(B, "conv3", "conv3", "bn3", x, a->width, 1, 3, 1, 1, 1, -1);
		x = add_pool(B, NET_OP_AVGPOOL, "avgpool", x, 2, 2, 0);
	}
	for (int s = 0; s < NET_STAGES; s++)
		for (int j = 0; j < a->depths[s]; j++)
			x = add_block(B, s, j, x);
	net_val_t last = net->val[x];
	if (a->family == NET_TORCHVISION) {
		int g = val_new(B, last.c, 1, 1);
		net_op_t *o = op_new(B, NET_OP_GAP, "avgpool", x);
		o->out = g;
		net->features = g;
		net->fc.in = last.c;
		net->fc.out = a->out_dim;
		net->fc.w = bind2(b, "fc.weight", a->out_dim, last.c);
		net->fc.b = bind1(b, "fc.bias", a->out_dim);
		int y = val_new(B, a->out_dim, 1, 1);
		o = op_new(B, NET_OP_FC, "fc", g);
		o->out = y;
		return;
	}
	net->features = -1;
	net_attnpool_t *t = &net->attn;
	t->tokens = last.h * last.w + 1;
	t->dim = last.c;
	t->heads = a->heads;
	t->head_dim = t->dim / t->heads;
	t->out = a->out_dim;
	if (t->head_dim * t->heads != t->dim) {
		char item[160];
		snprintf(item, sizeof item, "attnpool: %d channels do not split into %d heads", t->dim, t->heads);
		note_add(b->badshape, sizeof b->badshape, b->nbadshape++, item);
	}
	t->pos = bind2(b, "attnpool.positional_embedding", t->tokens, t->dim);
	t->wq = bind2(b, "attnpool.q_proj.weight", t->dim, t->dim);
	t->bq = bind1(b, "attnpool.q_proj.bias", t->dim);
	t->wk = bind2(b, "attnpool.k_proj.weight", t->dim, t->dim);
	t->bk = bind1(b, "attnpool.k_proj.bias", t->dim);
	t->wv = bind2(b, "attnpool.v_proj.weight", t->dim, t->dim);
	t->bv = bind1(b, "attnpool.v_proj.bias", t->dim);
	t->wc = bind2(b, "attnpool.c_proj.weight", t->out, t->dim);
	t->bc = bind1(b, "attnpool.c_proj.bias", t->out);
	int y = val_new(B, t->out, 1, 1);
	net_op_t *o = op_new(B, NET_OP_ATTNPOOL, "attnpool", x);
	o->out = y;
}

int net_load(net_t *net, const ckpt_t *ckpt, const char *want, char *err, size_t errcap)
{
	memset(net, 0, sizeof *net);
	net->features = -1;
	char prefix[NET_PREFIX_CAP];
	if (probe(ckpt, &net->arch, prefix, err, errcap) != 0)
		return -1;
	net_arch_name(&net->arch, net->name, sizeof net->name);
	if (want && strcmp(want, net->name) != 0) {
		snprintf(err, errcap, "not a %s checkpoint: it holds %s", want, net->name);
		return -1;
	}
	const net_arch_t *a = &net->arch;
	net->input_size = a->input;
	net->out_dim = a->out_dim;
	if (a->family == NET_TORCHVISION) {
		static const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
		memcpy(net->mean, mean, sizeof mean);
		memcpy(net->std, std, sizeof std);
		net->out_type = "logits";
	} else {
		static const float mean[3] = {0.48145466f, 0.4578275f, 0.40821073f},
				   std[3] = {0.26862954f, 0.26130258f, 0.27577711f};
		memcpy(net->mean, mean, sizeof mean);
		memcpy(net->std, std, sizeof std);
		net->out_type = "embedding";
	}
	binder_t b = {.ckpt = ckpt, .prefix = prefix};
	build_t B = {.net = net, .b = &b};
	build(&B);

	/* Tensors under the prefix that the architecture does not have: a
	 * different head, a stage block the names skip. */
	strmap_t seen;
	strmap_init(&seen);
	for (size_t j = 0; j < b.nexpected; j++)
		strmap_put(&seen, b.expected[j], 1);
	char extra[512] = "";
	int nextra = 0;
	for (size_t i = 0; i < ckpt_count(ckpt) && !b.oom; i++) {
		const char *name = ckpt_entry(ckpt, i)->name;
		if (has_prefix(name, prefix) && strmap_get(&seen, name) < 0)
			note_add(extra, sizeof extra, nextra++, name);
	}
	strmap_free(&seen);
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

void net_free(net_t *net)
{
	for (int i = 0; i < net->nconv; i++) {
		free(net->conv[i].w);
		free(net->conv[i].b);
	}
	free(net->conv);
	free(net->op);
	free(net->val);
	free(net->fc.w);
	free(net->fc.b);
	net_attnpool_t *a = &net->attn;
	float *p[] = {a->pos, a->wq, a->bq, a->wk, a->bk, a->wv, a->bv, a->wc, a->bc};
	for (size_t i = 0; i < sizeof p / sizeof p[0]; i++)
		free(p[i]);
	memset(net, 0, sizeof *net);
	net->features = -1;
}
