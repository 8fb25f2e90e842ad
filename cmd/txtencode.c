/* txtencode - CLIP zero-shot class embeddings from class names and prompts.
 *
 * In: no records. Class names (--names, one per line) filled into prompt
 * templates (--templates, one per line, "{}" where the name goes, Python
 * str.format rules), or per-class prompt lists (--prompts FILE.json, the
 * {"class name": ["prompt", ...], ...} form of CLIP_benchmark and CuPL), and
 * CLIP's checkpoint (--weights: OpenAI's RN50.pt ... RN50x64.pt, open_clip's
 * state dicts, any format common/ckpt/ckpt.h reads, names mapped by
 * model/clip_keys.h; --model names the model, or auto: the file says).
 * Defaults: the OpenAI ImageNet names and 80 templates shipped in data/.
 * Out: this program's header (prompt set, sha256 of each input file and of
 * the weights), one classes record (doc/records.md)
 *   {"type": "classes", "model", "names": [K], "logit_scale": exp(stored),
 *    "tensor": float32 [K,E], "templates": T (prompts per class; 0 when JSON
 *    lists differ in length), "prompts": P}
 * built as CLIP's notebook does (each prompt's embedding L2-normalized,
 * averaged over the class's prompts, normalized again; with --per-template
 * the tensor is [K,T,E] of the normalized prompt embeddings instead), and a
 * stats record. --tokenize prints token ids as text instead.
 * Text goes through CLIP's tokenizer as common/text/text.h reproduces it (its one
 * departure from ftfy: no mojibake repair) and the text tower of
 * model/text_encoder.h, on the CPU or (built with nvcc) on the GPU through
 * gpu/gpu_text.cu. It does not score images (zscore does).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "text/text.h"
#include "ckpt/ckpt.h"
#include "eval/eval.h"
#include "util/util.h"
#include "model/clip_keys.h"
#include "model/text_encoder.h"
#include "stream/stream.h"

typedef struct {
	const char *weights;
	const char *names;
	const char *templates;
	const char *prompts;
	const char *vocab;
	const char *model;
	int per_template;
	int truncate;
	int tokenize;
	int threads;
	precision_t precision;
	int precision_set;
	int batch_rows;
	device_t device;
	int gpu;
} options_t;


DIAG_NORETURN static void usage(void)
{
	printf("Usage: txtencode [OPTIONS] > classes.mp\n"
	       "Zero-shot class embeddings with CLIP's text tower: every class name filled\n"
	       "into every prompt template, tokenized as CLIP does, encoded, normalized,\n"
	       "averaged per class and normalized again (CLIP's ImageNet notebook). Writes\n"
	       "a header, one classes record for zscore --classes, and a stats record.\n"
	       "\n"
	       "  -w, --weights FILE     CLIP checkpoint: OpenAI's TorchScript file, or\n"
	       "                         open_clip's state dict (.pt, .bin, .safetensors)\n"
	       "                         (default: the --model's published file, RN50.pt for\n"
	       "                         clip-rn50, in $RNENC_WEIGHTS, else\n"
	       "                         ${XDG_CACHE_HOME:-$HOME/.cache}/rnencode/weights;\n"
	       "                         `make weights` puts them there)\n"
	       "  -n, --names FILE       class names, one per line (default:\n"
	       "                         data/names-clip.txt, the OpenAI ImageNet names)\n"
	       "      --templates FILE   prompt templates, one per line, {} = the class name\n"
	       "                         ({0} too; {{ and }} are braces: Python str.format)\n"
	       "                         (default: data/templates-clip.txt, CLIP's 80)\n"
	       "      --prompts FILE     per-class prompts as JSON {\"name\": [\"prompt\", ...]}\n"
	       "                         (CLIP_benchmark / CuPL form) instead of names x\n"
	       "                         templates\n"
	       "      --per-template     keep every prompt's normalized embedding: tensor\n"
	       "                         [K,T,E] (readers average it; JSON prompts need equal\n"
	       "                         counts)\n"
	       "      --truncate         cut texts over 77 tokens as\n"
	       "                         clip.tokenize(truncate=True) does (default: such a\n"
	       "                         text is an error naming it)\n"
	       "      --tokenize         print each prompt's token ids (text, one line per\n"
	       "                         prompt, class-major) and stop; needs no weights\n"
	       "  -d, --device D         auto | cpu | cuda (default auto: cuda when this build\n"
	       "                         has it and a GPU is usable, else the CPU with a note)\n"
	       "      --gpu N            CUDA device ordinal (default 0)\n"
	       "  -j, --threads N        CPU threads (default: all cores available)\n"
	       "      --precision P      fp32 (default), bf16 or fp16. fp16: round the weights\n"
	       "                         CLIP keeps in float16 through float16 (a no-op for\n"
	       "                         RN50.pt, which stores them so); on the CPU the math\n"
	       "                         stays FP32, on the GPU the matrix products take\n"
	       "                         float16 inputs on the tensor cores (FP32\n"
	       "                         accumulation). bf16 on the CPU: the matrix products\n"
	       "                         take bf16 weights and inputs, FP32 accumulation\n"
	       "                         (LayerNorm, softmax, residuals FP32) on oneDNN's bf16\n"
	       "                         kernels (avx512_bf16 or AMX); a CPU without them\n"
	       "                         gets the same rounding emulated, no faster, and a note;\n"
	       "                         on the GPU, bfloat16 inputs on the tensor cores\n"
	       "                         (compute capability 8.0 or later).\n"
	       "                         A backend refuses one it does not compute, naming\n"
	       "                         those it does\n"
	       "      --fp16             the same as --precision fp16\n"
	       "      --vocab FILE       BPE merges (default:\n"
	       "                         data/clip/bpe_simple_vocab_16e6.txt.gz)\n"
	       "  -m, --model NAME       the CLIP model, written into the record: clip-rn50,\n"
	       "                         clip-rn101, clip-rn50x4, clip-rn50x16, clip-rn50x64\n"
	       "                         (OpenAI's), or open_clip's names: RN50, RN101,\n"
	       "                         RN50x4, RN50x16, RN50x64, RN50-quickgelu,\n"
	       "                         RN101-quickgelu, each with /openai, /yfcc15m or\n"
	       "                         /cc12m where published; the text tower's QuickGELU\n"
	       "                         or GELU follows open_clip (QuickGELU: OpenAI's,\n"
	       "                         -quickgelu, every published tag; GELU: a bare\n"
	       "                         open_clip name). auto: what the file holds (OpenAI's\n"
	       "                         files, published open_clip files by sha256; other\n"
	       "                         state dicts do not say their activation). Default:\n"
	       "                         auto with --weights, else clip-rn50\n"
	       "      --batch-rows N     rows per batch (distinct token prefixes, 77 to 524288;\n"
	       "                         default 4096 on the CPU, 32768 on the GPU)\n"
	       "  -h, --help             this help\n"
	       "      --version          print the version and exit\n"
	       "\n"
	       "data/ is $RNENC_DATA if set, else BINDIR/../share/rnencode (installed),\n"
	       "else the checkout's data/ (BINDIR/../data).\n"
	       "\n"
	       "Tokenizer: CLIP's simple_tokenizer.py (ftfy.fix_text, html.unescape twice,\n"
	       "whitespace cleanup, lower case, its regex, byte-level BPE; start 49406, end\n"
	       "49407, context 77) with one departure: ftfy's mojibake repair (fix_encoding)\n"
	       "is not done, so text that ftfy would re-decode (\"cafÃ©\" -> \"café\") is\n"
	       "tokenized as written. Its other steps (entities, quotes, ligatures, widths,\n"
	       "control characters, NFC) are.\n"
	       "\n"
	       "Examples:\n"
	       "  txtencode > classes.mp                                # ImageNet, 80 templates\n"
	       "  txtencode --templates data/templates-clip-7.txt > classes7.mp  # 7 templates\n"
	       "  txtencode -n pets.txt --templates my-templates.txt -w RN50.pt > pets.mp\n"
	       "  txtencode --prompts cupl-imagenet.json > cupl.mp\n"
	       "  txtencode --device cuda --fp16 > classes.mp          # GPU, tensor cores\n"
	       "  txtencode -d cpu --precision bf16 > classes.mp       # CPU, bf16 products\n"
	       "  imgdecode imgs/ | rnencode | zscore --classes classes.mp | topk\n"
	       "  txtencode --tokenize -n names.txt --templates templates.txt |\n"
	       "      awk '{print NF}' | sort -n | tail -1              # longest prompt, tokens\n"
	       "\n"
	       "Exit status: 0 ok, 2 usage error or failure (bad input, over-long text,\n"
	       "unreadable weights): nothing but a complete table is ever written.\n");
	diag_help_done();
}

static void parse_args(int argc, char **argv, options_t *o)
{
	enum { O_PER = 256, O_TRUNC, O_TOK, O_FP16, O_PRECISION, O_GPU, O_VOCAB, O_BATCH, O_TEMPLATES, O_PROMPTS };
	static const struct option longopts[] = {
		{"weights", required_argument, NULL, 'w'},  {"names", required_argument, NULL, 'n'},
		{"templates", required_argument, NULL, O_TEMPLATES}, {"prompts", required_argument, NULL, O_PROMPTS},
		{"per-template", no_argument, NULL, O_PER},  {"truncate", no_argument, NULL, O_TRUNC},
		{"tokenize", no_argument, NULL, O_TOK},      {"threads", required_argument, NULL, 'j'},
		{"fp16", no_argument, NULL, O_FP16},         {"device", required_argument, NULL, 'd'},
		{"precision", required_argument, NULL, O_PRECISION},
		{"gpu", required_argument, NULL, O_GPU},
		{"vocab", required_argument, NULL, O_VOCAB}, {"model", required_argument, NULL, 'm'},
		{"batch-rows", required_argument, NULL, O_BATCH}, {"help", no_argument, NULL, 'h'},
		OPT_VERSION_ENTRY,
		{NULL, 0, NULL, 0}};
	memset(o, 0, sizeof *o);
	int c;
	while ((c = opt_next(argc, argv, "w:n:t:p:j:d:m:h", longopts)) != -1) {
		switch (c) {
		case 'w': o->weights = optarg; break;
		case 'n': o->names = optarg; break;
		case 't': opt_old_spelling("-t", "--templates"); /* fall through */
		case O_TEMPLATES: o->templates = optarg; break;
		case 'p': opt_old_spelling("-p", "--prompts"); /* fall through */
		case O_PROMPTS: o->prompts = optarg; break;
		case O_PER: o->per_template = 1; break;
		case O_TRUNC: o->truncate = 1; break;
		case O_TOK: o->tokenize = 1; break;
		case 'j': o->threads = (int)opt_parse_long("--threads", optarg, 1, 1024); break;
		case O_PRECISION: opt_set_precision(&o->precision, &o->precision_set, opt_parse_precision(optarg)); break;
		case O_FP16: opt_set_precision(&o->precision, &o->precision_set, PREC_FP16); break;
		case 'd': o->device = opt_parse_device(optarg); break;
		case O_GPU: o->gpu = (int)opt_parse_long("--gpu", optarg, 0, 1023); break;
		case O_VOCAB: o->vocab = optarg; break;
		case 'm': o->model = optarg; break;
		/* 2^19 rows keep every GPU buffer under 2^31 elements (cuBLAS takes int sizes) */
		case O_BATCH: o->batch_rows = (int)opt_parse_long("--batch-rows", optarg, 77, 1 << 19); break;
		case 'h': usage();
		default: diag_usage_hint(); /* getopt said why */
		}
	}
	if (optind < argc)
		diag_usage("unexpected argument '%s' (inputs are given with --names/--templates/--prompts)",
			   argv[optind]);
	clip_model_t cm;
	if (o->model && strcmp(o->model, "auto") != 0 && clip_model_find(o->model, &cm) != 0)
		diag_usage("--model: '%s' is not a CLIP ResNet this program knows (clip-rn50, clip-rn101, "
			   "clip-rn50x4, clip-rn50x16, clip-rn50x64; open_clip's RN50, RN50-quickgelu, RN101, "
			   "RN101-quickgelu, RN50x4, RN50x16, RN50x64, optionally /openai, /yfcc15m, /cc12m), nor auto",
			   o->model);
	if (o->prompts && (o->names || o->templates))
		diag_usage("--prompts replaces --names and --templates: give one or the other");
}

/* ---- default places ---- */

/* data/rel (util.h's rule); fatal when there is no data folder. */
static char *data_file(const char *rel)
{
	char err[PATH_MAX + 256];
	char *p = data_path(rel, err, sizeof err);
	if (!p)
		diag_fatal("%s", err);
	return p;
}

/* ---- prompts ---- */

/* An input file read once: its bytes serve both the prompts and the sha256
 * in the header, so a pipe or `<(...)` gives a header that matches what was
 * encoded (a second read of a pipe would hash nothing, or wait forever). */
static char *read_input(const char *opt, const char *path, size_t *len, char sha[65])
{
	char err[1024];
	char *text = file_read_all(path, len, err, sizeof err);
	if (!text)
		diag_fatal("%s: %s", opt, err);
	sha256_hex(text, *len, sha);
	return text;
}

/* names x templates; returns the set's name for the header */
static char *load_grid(const options_t *o, prompts_t *ps, char **names_path, char **templates_path, char nsha[65],
		       char tsha[65])
{
	char err[1024];
	char **names, **templates;
	int64_t k, t;
	size_t len;
	*names_path = o->names ? xstrdup(o->names) : data_file("names-clip.txt");
	*templates_path = o->templates ? xstrdup(o->templates) : data_file("templates-clip.txt");
	char *text = read_input("--names", *names_path, &len, nsha);
	if (names_parse(*names_path, text, len, &names, &k, err, sizeof err) != 0)
		diag_fatal("--names: %s", err);
	free(text);
	text = read_input("--templates", *templates_path, &len, tsha);
	if (names_parse(*templates_path, text, len, &templates, &t, err, sizeof err) != 0)
		diag_fatal("--templates: %s", err);
	free(text);
	for (int64_t j = 0; j < t; j++)
		if (!strchr(templates[j], '{'))
			diag_msg("%s: template %lld '%s' has no {}: every class gets the same text", *templates_path,
				 (long long)j + 1, templates[j]);
	if (prompts_from_grid(ps, names, k, templates, t, *templates_path, err, sizeof err) != 0)
		diag_fatal("%s", err);
	char buf[1024];
	snprintf(buf, sizeof buf, "%s x %s", path_base(*names_path), path_base(*templates_path));
	return xstrdup(buf);
}

static char *load_json(const char *path, prompts_t *ps, char sha[65])
{
	char err[1024];
	size_t len;
	char *text = read_input("--prompts", path, &len, sha);
	if (strlen(text) != len)
		diag_fatal("--prompts: %s: NUL byte in the file", path);
	if (prompts_from_json(ps, text, len, path, err, sizeof err) != 0)
		diag_fatal("--prompts: %s", err);
	free(text);
	return xstrdup(path_base(path));
}

/* ---- tokenizing ---- */

typedef struct {
	int32_t **ids; /* [P] each lens[i] ids, no padding */
	int *lens;
} tokens_t;

/* Which prompt, in words, for messages. */
static void prompt_where(const prompts_t *ps, int i, char *buf, size_t cap)
{
	if (ps->templates)
		snprintf(buf, cap, "class %d '%s', template %d '%s'", ps->cls[i] + 1, ps->names[ps->cls[i]],
			 ps->slot[i] + 1, ps->templates[ps->slot[i]]);
	else
		snprintf(buf, cap, "class %d '%s', prompt %d '%s'", ps->cls[i] + 1, ps->names[ps->cls[i]],
			 ps->slot[i] + 1, ps->texts[i]);
}

static void tokenize_all(bpe_t *b, const prompts_t *ps, int truncate, int check_length, tokens_t *tk)
{
	tk->ids = xcalloc((size_t)ps->p, sizeof *tk->ids);
	tk->lens = xcalloc((size_t)ps->p, sizeof *tk->lens);
	bpe_ids_t ids = {0};
	int over = 0;
	char err[256], where[1024];
	for (int i = 0; i < ps->p; i++) {
		long full = bpe_tokenize(b, ps->texts[i], strlen(ps->texts[i]), BPE_CONTEXT, truncate, &ids, err,
					 sizeof err);
		if (full < 0) {
			prompt_where(ps, i, where, sizeof where);
			diag_fatal("%s: %s", where, err);
		}
		if (check_length && !truncate && full > BPE_CONTEXT) {
			if (over < 10) {
				prompt_where(ps, i, where, sizeof where);
				diag_msg("%s: %ld tokens, over CLIP's context of %d (--truncate cuts it)", where, full,
					 BPE_CONTEXT);
			}
			over++;
		}
		tk->lens[i] = (int)ids.n;
		tk->ids[i] = xmalloc(ids.n * sizeof **tk->ids);
		memcpy(tk->ids[i], ids.v, ids.n * sizeof **tk->ids);
	}
	bpe_ids_free(&ids);
	if (over)
		diag_fatal("%d prompt%s over the context of %d tokens; nothing written", over, over == 1 ? "" : "s",
			   BPE_CONTEXT);
}

static void tokens_free(tokens_t *tk, int n)
{
	for (int i = 0; i < n; i++)
		free(tk->ids[i]);
	free(tk->ids);
	free(tk->lens);
}

/* ---- the table ---- */

/* Each row of v [n, d] scaled to unit L2 norm (norm in double). */
static int normalize_rows(float *v, int64_t n, int64_t d)
{
	for (int64_t i = 0; i < n; i++) {
		float *r = v + i * d;
		double s = 0;
		for (int64_t k = 0; k < d; k++)
			s += (double)r[k] * r[k];
		if (!(s > 0) || !isfinite(s))
			return (int)i;
		double inv = 1.0 / sqrt(s);
		for (int64_t k = 0; k < d; k++)
			r[k] = (float)(r[k] * inv);
	}
	return -1;
}

/* sha256 of a file that is read twice (the vocabulary); a
 * pipe is refused, as it could not give the same bytes again. */
static void hash_file(const char *opt, const char *path, char hex[65])
{
	if (file_sha256(path, hex) != 0)
		diag_fatal("%s: %s: %s", opt, path,
			   errno == ESPIPE ? "a pipe or FIFO, not a regular file (it is read a second time, for its sha256)"
					   : strerror(errno));
}

/* nsha: of --names or --prompts; tsha: of --templates */
static void write_header(rec_writer_t *w, int argc, char **argv, const options_t *o, const prompts_t *ps,
			 const char *set_name, const char *names_path, const char *nsha, const char *templates_path,
			 const char *tsha, const char *weights, const char *wsha, const char *vocab, const char *vsha,
			 const char *model, const text_backend_t *be, const text_info_t *info)
{
	rec_builder_t *b = rec_begin_header(w, argc, argv);
	rb_str(b, "model", model);
	rb_str(b, "prompt_set", set_name);
	if (ps->templates) {
		rb_str(b, "names", names_path);
		rb_str(b, "names_sha256", nsha);
		rb_str(b, "templates", templates_path);
		rb_str(b, "templates_sha256", tsha);
	} else {
		rb_str(b, "prompts", o->prompts);
		rb_str(b, "prompts_sha256", nsha);
	}
	rb_str(b, "weights", weights);
	rb_str(b, "weights_sha256", wsha);
	rb_str(b, "vocab", vocab);
	rb_str(b, "vocab_sha256", vsha);
	rb_str(b, "tokenizer", "CLIP simple_tokenizer without ftfy mojibake repair");
	/* the CPU rounds fp16's weights and computes FP32: not the GPU's numbers */
	rb_str(b, "precision", o->precision == PREC_FP16 && be == &text_backend_cpu ? "fp16-weights"
										       : precision_name(o->precision));
	rb_str(b, "device", info->device);
	rb_int(b, "threads", info->threads);
	rb_bool(b, "truncate", o->truncate);
	rec_end(b);
}

int main(int argc, char **argv)
{
	diag_init(argv[0]);
	options_t o;
	parse_args(argc, argv, &o);
	double t_start = time_now();
	/* the device first: a missing GPU fails before minutes of loading */
	const text_backend_t *be = o.tokenize ? NULL : DEVICE_BACKEND(o.device, o.gpu, &text_backend_cpu, &text_backend_cuda);

	prompts_t ps = {0};
	char *names_path = NULL, *templates_path = NULL;
	char nsha[65] = "", tsha[65] = "", vsha[65] = "";
	char *set_name = o.prompts ? load_json(o.prompts, &ps, nsha)
				   : load_grid(&o, &ps, &names_path, &templates_path, nsha, tsha);

	/* T: prompts per class when every class has the same number, else 0 */
	int T = 0;
	{
		int64_t *count = xcalloc((size_t)ps.k, sizeof *count);
		for (int i = 0; i < ps.p; i++)
			count[ps.cls[i]]++;
		int64_t c = 1;
		while (c < ps.k && count[c] == count[0])
			c++;
		long long n0 = (long long)count[0], nc = c < ps.k ? (long long)count[c] : 0;
		free(count);
		if (c < ps.k && o.per_template)
			diag_fatal("--per-template: class '%s' has %lld prompts, class '%s' %lld: a [K,T,E] "
				   "tensor needs the same number for every class",
				   ps.names[0], n0, ps.names[c], nc);
		T = c < ps.k ? 0 : (int)n0;
	}

	char *vocab = o.vocab ? xstrdup(o.vocab) : data_file("clip/bpe_simple_vocab_16e6.txt.gz");
	char err[1024] = "";
	if (!o.tokenize) /* before the load, which would wait on a FIFO's writer */
		hash_file("--vocab", vocab, vsha);
	bpe_t *bpe = bpe_load(vocab, err, sizeof err);
	if (!bpe)
		diag_fatal("%s", err);
	tokens_t tk;
	tokenize_all(bpe, &ps, o.truncate, !o.tokenize, &tk);
	bpe_free(bpe);

	if (o.tokenize) {
		for (int i = 0; i < ps.p; i++) {
			for (int k = 0; k < tk.lens[i]; k++)
				printf("%s%d", k ? " " : "", tk.ids[i][k]);
			putchar('\n');
		}
		if (fflush(stdout) != 0 || ferror(stdout) || fclose(stdout) != 0)
			diag_fatal("stdout: write error: %s", strerror(errno));
		tokens_free(&tk, ps.p);
		prompts_free(&ps);
		free(names_path);
		free(templates_path);
		free(set_name);
		free(vocab);
		return EXIT_OK;
	}

	rec_writer_t *w = rec_writer_stdout(0);
	/* the model: named, or (auto, the default with --weights) what the file holds */
	int autodetect = o.model ? strcmp(o.model, "auto") == 0 : o.weights != NULL;
	clip_model_t cm;
	if (clip_model_find(autodetect || !o.model ? "clip-rn50" : o.model, &cm) != 0)
		diag_fatal("--model %s: not in the model table", o.model); /* parse_args checked it */
	if (!o.weights && !cm.file)
		diag_fatal("--model %s: names no published weights (a tag such as %s/openai does): give --weights FILE",
			   cm.name, cm.family);
	char *weights = o.weights ? xstrdup(o.weights) : weights_path(cm.file);
	if (access(weights, R_OK) != 0)
		diag_fatal("%s: %s%s", weights, strerror(errno),
			   o.weights ? "" : " (run `make weights`, or give --weights FILE)");
	ckpt_t *ck = ckpt_open(weights, err, sizeof err);
	if (!ck)
		diag_fatal("%s", err);
	char wsha[65];
	ckpt_sha256(ck, wsha); /* of the bytes loaded */
	clip_keys_t keys;
	text_shape_t tower;
	if (clip_keys_canonical(ck, &keys, err, sizeof err) != 0 || text_tower_shape(ck, &tower, err, sizeof err) != 0)
		diag_fatal("%s: %s", weights, err);
	if (autodetect ? clip_model_detect(ck, &keys, wsha, &cm, err, sizeof err) != 0
		       : clip_model_check_text(&cm, &tower, err, sizeof err) != 0)
		diag_fatal("%s: %s", weights, err);
	text_model_t m;
	if (text_model_load(&m, ck, cm.act, o.precision == PREC_FP16, err, sizeof err) != 0)
		diag_fatal("%s: %s", weights, err);
	ckpt_free(ck);
	if (m.context < BPE_CONTEXT)
		for (int i = 0; i < ps.p; i++)
			if (tk.lens[i] > m.context)
				diag_fatal("%s: the model's context is %d tokens, prompt %d has %d", weights, m.context,
					   i + 1, tk.lens[i]);

	int64_t E = m.embed;
	float *emb = malloc((size_t)ps.p * (size_t)E * sizeof *emb);
	if (!emb)
		diag_fatal("out of memory for %d x %lld embeddings", ps.p, (long long)E);
	text_config_t cfg = {.precision = o.precision, .threads = o.threads, .batch_rows = o.batch_rows, .device = o.gpu};
	text_runner_t *runner = be->create(&m, &cfg, err, sizeof err);
	if (!runner)
		diag_fatal("%s backend: %s", be->name, err);
	text_info_t info;
	be->info(runner, &info);
	if (info.note[0])
		diag_msg("%s", info.note);
	text_encode_stats_t st = {0};
	if (text_encode(&m, be, runner, (const int32_t *const *)tk.ids, tk.lens, ps.p, emb, &st, err, sizeof err) != 0)
		diag_fatal("%s backend: %s", be->name, err);
	be->info(runner, &info);
	/* on a terminal the progress line, else (a log, make study) one line at the end */
	diag_progress_done();
	if (!isatty(STDERR_FILENO))
		diag_msg("%d prompts (%lld classes) encoded in %.1f s, %.0f prompts/s, on %s", ps.p, (long long)ps.k,
			 st.seconds, st.seconds > 0 ? ps.p / st.seconds : 0.0, info.device[0] ? info.device : be->name);
	be->destroy(runner);
	int bad = normalize_rows(emb, ps.p, E);
	if (bad >= 0) {
		char where[1024];
		prompt_where(&ps, bad, where, sizeof where);
		diag_fatal("%s: its embedding has zero or non-finite norm", where);
	}

	/* [K,E]: mean of each class's normalized prompt embeddings, normalized */
	float *table;
	int64_t shape[3];
	int ndim;
	if (o.per_template) {
		table = emb; /* prompts are class-major with T each: already [K,T,E] */
		shape[0] = ps.k;
		shape[1] = T;
		shape[2] = E;
		ndim = 3;
	} else {
		double *acc = xcalloc((size_t)ps.k * (size_t)E, sizeof *acc);
		table = xmalloc((size_t)ps.k * (size_t)E * sizeof *table);
		for (int i = 0; i < ps.p; i++)
			for (int64_t k = 0; k < E; k++)
				acc[(size_t)ps.cls[i] * (size_t)E + (size_t)k] += emb[(size_t)i * (size_t)E + (size_t)k];
		int *count = xcalloc((size_t)ps.k, sizeof *count);
		for (int i = 0; i < ps.p; i++)
			count[ps.cls[i]]++;
		for (int64_t c = 0; c < ps.k; c++)
			for (int64_t k = 0; k < E; k++)
				table[c * E + k] = (float)(acc[c * E + k] / count[c]);
		free(acc);
		free(count);
		bad = normalize_rows(table, ps.k, E);
		if (bad >= 0)
			diag_fatal("class %d '%s': the mean of its prompt embeddings is zero", bad + 1, ps.names[bad]);
		shape[0] = ps.k;
		shape[1] = E;
		ndim = 2;
	}

	write_header(w, argc, argv, &o, &ps, set_name, names_path, nsha, templates_path, tsha, weights, wsha, vocab, vsha,
		     cm.name, be, &info);
	rec_builder_t *b = rec_begin(w, "classes");
	rb_str(b, "model", cm.name);
	rb_strs(b, "names", (const char *const *)ps.names, (size_t)ps.k);
	/* in FP32 as CLIP's logit_scale.exp(): exactly 100 for ln(100) stored as float */
	rb_double(b, "logit_scale", (double)expf((float)m.logit_scale));
	rb_int(b, "templates", T);
	rb_int(b, "prompts", ps.p);
	rb_tensor(b, "tensor", DTYPE_FLOAT32, ndim, shape, table);
	rec_end(b);

	double secs = time_now() - t_start;
	b = rec_begin(w, "stats");
	rb_str(b, "producer", diag_prog());
	rb_str(b, "model", cm.name);
	rb_str(b, "device", info.device);
	rb_int(b, "threads", info.threads);
	rb_int(b, "batch_rows", info.batch_rows);
	rb_int(b, "batches", st.batches);
	rb_double(b, "compute_seconds", info.compute_s);
	rb_int(b, "backend_peak_bytes", (int64_t)info.peak_bytes);
	rb_int(b, "classes", ps.k);
	rb_int(b, "prompts", ps.p);
	rb_int(b, "rows", st.rows);
	rb_int(b, "padded_positions", st.positions);
	rb_double(b, "encode_seconds", st.seconds);
	rb_double(b, "seconds", secs);
	rb_int(b, "peak_memory_bytes", mem_peak_rss());
	rec_end(b);
	rec_writer_close(w);

	if (table != emb)
		free(table);
	free(emb);
	text_model_free(&m);
	tokens_free(&tk, ps.p);
	prompts_free(&ps);
	free(names_path);
	free(templates_path);
	free(set_name);
	free(weights);
	free(vocab);
	return EXIT_OK;
}
