/* rnencode - encode images with a torchvision ResNet or a CLIP ModifiedResNet.
 *
 * Records in (stdin): `image` records (doc/records.md): tensor uint8
 * [S,S,3] RGB crops (S = the model's input size; normalized here with the
 * model's mean/std) or float32/float16 [3,S,S] already normalized.
 * Records out: our header, then per image one `logits` [classes] (torchvision;
 * `features` with --features) or `embedding` (CLIP) with
 * the image record's other keys kept, or an `error` record; earlier headers,
 * error records and unknown records pass through unchanged, in input order;
 * a `stats` record at the end.
 * How: model/net.c binds the checkpoint and folds BatchNorm; the compute runs
 * on a backend (model/cpu_dnnl.c on oneDNN, gpu/ with CUDA) in batches, with
 * records held in a queue until their batch is done, so memory is bounded by
 * the batch size whatever the stream's length.
 * It does not decode images (imgdecode does), resize, or score (zscore).
 */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ckpt/ckpt.h"
#include "util/util.h"
#include "model/net.h"
#include "stream/stream.h"

enum {
	DEFAULT_BATCH_CPU = 8,
	DEFAULT_BATCH_CUDA = 64,
	HELD_LIMIT = 64 << 20 /* bytes of queued non-image records that force a partial batch */
};

typedef struct {
	const char *model;
	const char *weights;
	int features;
	precision_t precision;
	int precision_set; /* --precision or a synonym was given */
	int batch; /* 0: per device */
	int threads;
	device_t device;
	int gpu;
	const char *mem_trace;
	size_t max_record;
	const char *calibrate;      /* --calibrate SET.mp */
	int calibrate_fd;           /* open on it */
	const char *save_calibration;
	const char *calibration;    /* --calibration FILE */
	net_calib_t calib;          /* read from it */
} options_t;

/* The model names as help lines: indented, wrapped before 80 columns. */
static const char *model_lines(void)
{
	static char buf[1024];
	size_t o = 0, col = 0;
	for (const net_model_t *m = net_models; m->name; m++) {
		size_t len = strlen(m->name) + (m[1].name ? 1 : 0);
		if (col && col + 1 + len > 78) {
			o += (size_t)snprintf(buf + o, sizeof buf - o, "\n");
			col = 0;
		}
		o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%s%s", col ? " " : "  ", m->name, m[1].name ? "," : "\n");
		col += (col ? 1 : 2) + len;
	}
	return buf;
}

DIAG_NORETURN static void usage(void)
{
	printf("Usage: rnencode [OPTIONS] < images.mp > encodings.mp\n"
	       "Encode `image` records with a torchvision ResNet (-> `logits` [classes]) or an\n"
	       "OpenAI CLIP ModifiedResNet (-> `embedding`, not normalized). Other records\n"
	       "pass through in order; a `stats` record (time, images/s, peak memory) ends\n"
	       "the output.\n"
	       "\n"
	       "  -m, --model M        auto, or a model name (below)\n"
	       "                       (default: auto with --weights: the network is what the\n"
	       "                       file holds, read from its tensors; without --weights,\n"
	       "                       from the first image's preset: clip -> clip-rn50,\n"
	       "                       clip-288 -> clip-rn50x4, ..., imagenet* -> resnet50)\n"
	       "  -w, --weights FILE   checkpoint: torchvision .pth, CLIP's RN50.pt etc.\n"
	       "                       (TorchScript), a state dict with or without the\n"
	       "                       `visual.` prefix, or\n"
	       "                       safetensors (default: the model's published file in\n"
	       "                       $RNENC_WEIGHTS/, else ${XDG_CACHE_HOME:-~/.cache}/\n"
	       "                       rnencode/weights/, e.g. resnet50-0676ba61.pth (V2,\n"
	       "                       resnet50-11ad3fa6.pth, for the imagenet-v2 preset) and\n"
	       "                       RN50.pt; `make weights`)\n"
	       "      --features       torchvision: write `features` (2048 wide; 512 for\n"
	       "                       resnet18/34), the pooled vector before the classifier,\n"
	       "                       instead of logits\n"
	       "      --precision P    what the network computes in (default fp32):\n"
	       "                       fp32  FP32 throughout\n"
	       "                       tf32  CUDA: FP32 convolutions and GEMMs on TF32 tensor\n"
	       "                             cores (~1e-3 relative); the CPU computes FP32\n"
	       "                       bf16  BF16 weights and activations between layers, FP32\n"
	       "                             accumulation, biases and head (fc; CLIP's attention\n"
	       "                             pool); outputs are float32. On a CPU without bf16\n"
	       "                             instructions: the same numbers from FP32 arithmetic\n"
	       "                             (no faster), with a note\n"
	       "                       fp16  FP16 weights and activations between layers, FP32\n"
	       "                             arithmetic inside each layer (BatchNorm folded in\n"
	       "                             FP32 first); outputs are float16. On the CPU this\n"
	       "                             emulates the GPU's FP16 numbers (FP32 arithmetic on\n"
	       "                             FP16-rounded tensors)\n"
	       "                       int8  the CPU: convolutions on u8/s8 activations and s8\n"
	       "                             weights (7-bit, per output channel, BatchNorm\n"
	       "                             folded in FP32 first), s32 sums; activation\n"
	       "                             scales from a calibration (below); residuals,\n"
	       "                             pools and head FP32; outputs are float32\n"
	       "                       A backend refuses one it does not compute, naming\n"
	       "                       those it does.\n"
	       "      --fp16           the same as --precision fp16\n"
	       "      --calibrate SET  int8: run the FP32 network over SET's image records\n"
	       "                       (a stream as on stdin; a bad record is skipped with a\n"
	       "                       line) and quantize each convolution's input by the\n"
	       "                       largest |x| seen there (min/max observer)\n"
	       "      --save-calibration FILE  with --calibrate: also write those scales to\n"
	       "                       FILE (one `calibration` record)\n"
	       "      --calibration FILE  int8: the scales saved by --save-calibration, for\n"
	       "                       the same model and weights file, instead of\n"
	       "                       calibrating\n"
	       "  -b, --batch N        images per batch (default %d on the CPU, %d on CUDA);\n"
	       "                       results move with it by rounding only (FP32: about\n"
	       "                       1e-5 relative; FP16 up to about 1e-2)\n"
	       "  -d, --device D       auto | cpu | cuda (default auto: cuda when this build has\n"
	       "                       it and a GPU is present, else cpu with a note; int8:\n"
	       "                       cpu)\n"
	       "      --gpu N          CUDA device ordinal (default 0)\n"
	       "      --mem-trace FILE CUDA: write the device allocation timeline to FILE\n"
	       "                       (TSV: time_s bytes_in_use tag)\n"
	       "  -j, --threads N      CPU threads (default: all cores available)\n"
	       "      --max-record B   refuse input records larger than B bytes (default 1 GiB)\n"
	       "                       or holding more than B/256 msgpack values (at least\n"
	       "                       65536)\n"
	       "  -h, --help           this help\n"
	       "      --version        print the version and exit\n"
	       "\n"
	       "Models:\n"
	       "%s"
	       "\n"
	       "Input images: uint8 [S,S,3] (normalized here with the model's mean/std), or\n"
	       "float32/float16 [3,S,S] taken as normalized; S is the model's input size\n"
	       "(224; CLIP RN50x4 288, RN50x16 384, RN50x64 448). An image whose preset\n"
	       "does not match the model, or of another shape or dtype, becomes an `error`\n"
	       "record and the run goes on; so does a float image holding NaN, Inf or values\n"
	       "beyond +-65504, and an image whose output comes out NaN or Inf (an overflow\n"
	       "inside; on the CPU, any activation beyond its precision's range: float16's\n"
	       "with --fp16, whose weights must fit float16 after the BatchNorm fold).\n"
	       "\n"
	       "Examples:\n"
	       "  imgdecode --preset clip photos/ | rnencode --fp16 | zscore | topk\n"
	       "  imgdecode --preset imagenet -j 2 val/ | rnencode --model resnet50 \\\n"
	       "      --weights resnet50-0676ba61.pth > logits.mp\n"
	       "  rnencode --device cpu --threads 4 --batch 16 < crops.mp | recview -t stats\n"
	       "  rnencode --precision int8 --calibrate calib.mp --save-calibration int8.mp \\\n"
	       "      < crops.mp > logits.mp    (later: --calibration int8.mp)\n"
	       "\n"
	       "Environment: RNENC_WEIGHTS (weights directory, above); OMP_WAIT_POLICY:\n"
	       "rnencode sets PASSIVE unless it or GOMP_SPINCOUNT is set, whether stdin is a\n"
	       "file or a pipe (CPU threads sleep between layers instead of spinning: up to\n"
	       "3x faster when anything else shares the cores, pipeline stage or not); on cores\n"
	       "nothing else uses, OMP_WAIT_POLICY=ACTIVE can gain a little at small batches.\n"
	       "The header's omp_wait_policy says which one ran. Debugging --device cuda:\n"
	       "RNENC_GPU_DUMP=DIR writes every op's output for the first image, as\n"
	       "DIR/NNN.f32 + DIR/index.tsv (gpu/gpu_dump.h); RNENC_NO_GRAPH=1 runs op by op,\n"
	       "never as a CUDA graph, so that a failing kernel is named at its launch (with\n"
	       "CUDA_LAUNCH_BLOCKING=1).\n"
	       "\n"
	       "Exit status: 0 ok, 1 some images failed (error records written),\n"
	       "2 usage error or fatal failure (weights, stream, device).\n",
	       DEFAULT_BATCH_CPU, DEFAULT_BATCH_CUDA, model_lines());
	diag_help_done();
}

/* The calibration options, checked and their files opened (or read) now:
 * a mistake shows before any image is read. */
static void calibration_args(options_t *o)
{
	int int8 = o->precision == PREC_INT8;
	const char *given = o->calibrate ? "--calibrate" : o->calibration ? "--calibration" :
			    o->save_calibration ? "--save-calibration" : NULL;
	if (given && !int8)
		diag_usage("%s is for --precision int8", given);
	if (!int8)
		return;
	/* only the CPU backend computes int8: auto means it, GPU or not */
	if (o->device == DEVICE_AUTO)
		o->device = DEVICE_CPU;
	/* --device cuda: its backend refuses int8 itself, naming what it computes */
	if (!o->calibrate && !o->calibration && o->device != DEVICE_CUDA)
		diag_usage("--precision int8 needs --calibrate SET.mp (calibrate on those image records) or "
			   "--calibration FILE (scales saved by --save-calibration)");
	if (o->calibrate && o->calibration)
		diag_usage("--calibrate and --calibration both given: calibrate, or load a calibration");
	if (o->save_calibration && !o->calibrate)
		diag_usage("--save-calibration writes what --calibrate measures: give --calibrate SET.mp");
	if (o->save_calibration && strcmp(o->save_calibration, "-") == 0)
		diag_usage("--save-calibration -: stdout carries the encodings; name a file");
	char err[1024];
	if (o->calibrate && (o->calibrate_fd = file_open_input(o->calibrate, 0, err, sizeof err)) < 0)
		diag_fatal("--calibrate: %s", err);
	struct stat cs;
	if (o->calibrate && fstat(o->calibrate_fd, &cs) == 0 && !S_ISREG(cs.st_mode) && file_is(NULL, 0, &cs))
		diag_usage("--calibrate %s is the stream on stdin: both cannot read it; save the set to a file",
			   o->calibrate);
	struct stat ss;
	if (o->save_calibration && outfile_check(o->save_calibration, &ss, err, sizeof err) != 0)
		diag_fatal("--save-calibration: %s", err);
	/* never over an input or the output (outfile_check: st_ino 0 = new file) */
	const char *clash = NULL;
	if (o->save_calibration && ss.st_ino) {
		if (o->calibrate && file_is(NULL, o->calibrate_fd, &ss))
			clash = "the --calibrate set";
		else if (o->weights && file_is(o->weights, -1, &ss))
			clash = "the --weights file";
		else if (file_is(NULL, 0, &ss))
			clash = "stdin";
		else if (file_is(NULL, 1, &ss))
			clash = "stdout";
	}
	if (clash)
		diag_usage("--save-calibration %s is %s: it would be replaced; name another file", o->save_calibration,
			   clash);
	if (o->calibration && net_calib_read(o->calibration, &o->calib, err, sizeof err) != 0)
		diag_fatal("--calibration: %s", err);
}

static void parse_args(int argc, char **argv, options_t *o)
{
	static const struct option longopts[] = {
		{"model", required_argument, NULL, 'm'},   {"weights", required_argument, NULL, 'w'},
		{"features", no_argument, NULL, 'F'},      {"fp16", no_argument, NULL, 'H'},
		{"precision", required_argument, NULL, 'P'},
		{"batch", required_argument, NULL, 'b'},   {"device", required_argument, NULL, 'd'},
		{"gpu", required_argument, NULL, 'G'},     {"threads", required_argument, NULL, 'j'},
		{"max-record", required_argument, NULL, 'M'}, {"help", no_argument, NULL, 'h'},
		{"tf32", no_argument, NULL, 'T'},          {"mem-trace", required_argument, NULL, 'R'},
		{"calibrate", required_argument, NULL, 300}, {"save-calibration", required_argument, NULL, 301},
		{"calibration", required_argument, NULL, 302},
		OPT_VERSION_ENTRY,
		{NULL, 0, NULL, 0}};
	memset(o, 0, sizeof *o);
	o->max_record = REC_DEFAULT_MAX_RECORD;
	int c;
	while ((c = opt_next(argc, argv, "m:w:b:d:j:h", longopts)) != -1) {
		switch (c) {
		case 'm': o->model = optarg; break;
		case 'w': o->weights = optarg; break;
		case 'F': o->features = 1; break;
		case 'P': opt_set_precision(&o->precision, &o->precision_set, opt_parse_precision(optarg)); break;
		case 'H': opt_set_precision(&o->precision, &o->precision_set, PREC_FP16); break;
		case 'b': o->batch = (int)opt_parse_long("--batch", optarg, 1, 4096); break;
		case 'd': o->device = opt_parse_device(optarg); break;
		case 'T':
			opt_old_spelling("--tf32", "--precision tf32");
			opt_set_precision(&o->precision, &o->precision_set, PREC_TF32);
			break;
		case 'R': o->mem_trace = optarg; break;
		case 'G': o->gpu = (int)opt_parse_long("--gpu", optarg, 0, 1023); break;
		case 'j': o->threads = (int)opt_parse_long("--threads", optarg, 1, 1024); break;
		case 'M': o->max_record = (size_t)opt_parse_long("--max-record", optarg, 16, __LONG_MAX__); break;
		case 300: o->calibrate = optarg; break;
		case 301: o->save_calibration = optarg; break;
		case 302: o->calibration = optarg; break;
		case 'h': usage();
		default: diag_usage_hint(); /* getopt said why */
		}
	}
	if (optind < argc)
		diag_usage("unexpected argument '%s' (records come on stdin)", argv[optind]);
	if (o->model && strcmp(o->model, "auto") == 0)
		o->model = NULL;
	const net_model_t *m = o->model ? net_model_find(o->model) : NULL;
	if (o->model && !m)
		diag_usage("--model: '%s' is not auto or one of %s", o->model, net_model_names());
	if (m && o->features && m->arch.family != NET_TORCHVISION)
		diag_usage("--features is for torchvision ResNets (%s's embedding is its feature vector)", o->model);
	/* A named file is checked now, not at the first image: a stream with
	 * none would end with exit 0 and the mistake unseen. */
	char err[512];
	if (o->weights && file_check_regular(o->weights, err, sizeof err) != 0)
		diag_fatal("%s", err);
	calibration_args(o);
}

/* ---- the queue of records waiting for their batch ---- */

typedef enum {
	ITEM_RAW,   /* pass through: raw bytes */
	ITEM_ERROR, /* an error record to write */
	ITEM_IMAGE  /* the output record begun; its tensor comes from batch `seq` */
} item_kind_t;

typedef struct {
	item_kind_t kind;
	unsigned char *bytes; /* RAW: the record */
	size_t len;
	rec_builder_t *rb; /* IMAGE: its keys up to "tensor" */
	char *id, *path, *message; /* ERROR; IMAGE: id and path for an error record */
	int64_t label;
	long seq;  /* IMAGE: batch number */
	int slot;  /* IMAGE: index in the batch */
	uint64_t index; /* IMAGE: record number, for messages */
	int has_id;     /* IMAGE: id is the record's own, not "#N" */
} item_t;

typedef struct {
	item_t *v;
	size_t head, n, cap;
	size_t held_bytes; /* RAW bytes queued */
} queue_t;

static item_t *queue_push(queue_t *q)
{
	if (q->n == q->cap) {
		size_t cap = q->cap ? 2 * q->cap : 64;
		item_t *v = xmalloc(cap * sizeof *v);
		for (size_t i = 0; i < q->n; i++)
			v[i] = q->v[(q->head + i) % q->cap];
		free(q->v);
		q->v = v;
		q->head = 0;
		q->cap = cap;
	}
	item_t *it = &q->v[(q->head + q->n++) % q->cap];
	memset(it, 0, sizeof *it);
	return it;
}

/* ---- the run ---- */

typedef struct {
	options_t *o;
	rec_writer_t *w;
	const enc_backend_t *be;
	encoder_t *enc;
	net_t net;
	int out_dim;
	const char *out_type;
	const char *precision;
	queue_t q;
	/* the batch being filled */
	enc_input_t fmt;
	void *inbuf;
	int fill;
	long seq;      /* number of the batch being filled */
	long done_seq; /* batches whose outputs were written: 0..done_seq-1 */
	int inflight;
	float *out;    /* [batch][out_dim] of the batch last waited for */
	int batch;
	long images, failed;
	double t_start;
	/* the progress line's total: stdin a regular file of in_size bytes
	 * from where we start reading (0: a pipe, whose size nothing tells:
	 * imgdecode's header does not count its inputs, listed as it goes) */
	rec_reader_t *rd;
	off_t in_size;
} run_t;

static void write_image(run_t *r, const item_t *it)
{
	const float *y = r->out + (size_t)it->slot * (size_t)r->out_dim;
	/* a finite input can still overflow inside (float16's range in --fp16):
	 * an Inf or NaN out is the image's error, never a plausible answer */
	int bad = 0, first = -1;
	for (int k = 0; k < r->out_dim; k++)
		if (!isfinite(y[k])) {
			bad++;
			if (first < 0)
				first = k;
		}
	if (bad) {
		char msg[256], where[320];
		snprintf(msg, sizeof msg,
			 "%s has %d non-finite value%s of %d (the first at [%d]): the image overflows the network's "
			 "arithmetic%s",
			 r->out_type, bad, bad == 1 ? "" : "s", r->out_dim, first, r->o->precision == PREC_FP16 ? " (float16's range of +-65504 with --precision fp16)" : "");
		diag_msg("%s: %s", rec_where_at(where, sizeof where, "stdin", it->index, it->id, it->has_id ? strlen(it->id) : 0),
			 msg);
		rec_write_error(r->w, it->id, it->path, it->label, msg);
		r->failed++;
		r->images--; /* counted at submit: an image is encoded or failed, not both */
		return;
	}
	int64_t shape[1] = {r->out_dim};
	if (r->o->precision == PREC_FP16) {
		uint16_t *h = xmalloc((size_t)r->out_dim * sizeof *h);
		tensor_f32_to_f16(y, h, (size_t)r->out_dim);
		rb_tensor(it->rb, "tensor", DTYPE_FLOAT16, 1, shape, h);
		rec_end(it->rb);
		free(h);
	} else {
		rb_tensor(it->rb, "tensor", DTYPE_FLOAT32, 1, shape, y);
		rec_end(it->rb);
	}
}

/* Write queued items up to the first image of a batch not yet finished. */
static void queue_drain(run_t *r)
{
	queue_t *q = &r->q;
	while (q->n) {
		item_t *it = &q->v[q->head];
		if (it->kind == ITEM_IMAGE && it->seq >= r->done_seq)
			break;
		if (it->kind == ITEM_RAW) {
			rec_write_raw(r->w, it->bytes, it->len);
			rec_writer_end_record(r->w);
			q->held_bytes -= it->len;
		} else if (it->kind == ITEM_ERROR) {
			rec_write_error(r->w, it->id, it->path, it->label, it->message);
		} else {
			write_image(r, it);
		}
		free(it->bytes);
		rec_builder_free(it->rb);
		free(it->id);
		free(it->path);
		free(it->message);
		q->head = (q->head + 1) % q->cap;
		q->n--;
	}
}

/* Wait for the oldest batch in flight and write what it completes. */
static void wait_one(run_t *r)
{
	char err[512];
	if (r->be->wait(r->enc, r->out, err, sizeof err) != 0)
		diag_fatal("%s: %s", r->be->name, err);
	r->inflight--;
	r->done_seq++;
	queue_drain(r);
	double dt = time_now() - r->t_start; /* diag_progress: only on a terminal, rate-limited */
	double rate = dt > 0 ? (double)r->images / dt : 0.0;
	double f = r->in_size > 0 ? (double)rec_reader_bytes(r->rd) / (double)r->in_size : 0;
	if (f > 0) {
		/* the images read so far over the share of the file read: the total
		 * when images are alike in size (crops of one preset) */
		long total = lround((double)(r->images + r->fill) / (f < 1 ? f : 1));
		if (total < r->images)
			total = r->images;
		char left[32];
		time_format(rate > 0 ? (double)(total - r->images) / rate : -1, left, sizeof left);
		diag_progress("%ld/%s%ld images, %.1f images/s, %s left", r->images, f < 1 ? "~" : "", total, rate, left);
	} else
		diag_progress("%ld images, %.1f images/s", r->images, rate);
}

static void submit_batch(run_t *r)
{
	if (r->fill == 0)
		return;
	char err[512];
	if (r->be->submit(r->enc, r->fmt, r->fill, err, sizeof err) != 0)
		diag_fatal("%s: %s", r->be->name, err);
	r->images += r->fill;
	r->inflight++;
	r->seq++;
	r->fill = 0;
	r->inbuf = NULL;
	while (r->inflight >= r->be->depth)
		wait_one(r);
}

static void finish_all(run_t *r)
{
	submit_batch(r);
	while (r->inflight > 0)
		wait_one(r);
	queue_drain(r);
}

/* A record that goes out as it is: now if nothing waits before it, else queued. */
static void pass_or_queue(run_t *r, const record_t *rec)
{
	if (r->q.n == 0 && r->fill == 0) {
		rec_pass(r->w, rec);
		return;
	}
	item_t *it = queue_push(&r->q);
	it->kind = ITEM_RAW;
	it->bytes = xmemdup(rec->raw, rec->raw_len);
	it->len = rec->raw_len;
	r->q.held_bytes += rec->raw_len;
	if (r->q.held_bytes > HELD_LIMIT) /* many records behind a partial batch: finish it */
		finish_all(r);
}

/* What an error record for rec names, as rec_write_error_for names it (its
 * id, else "#<record number>"), kept in an item. */
static void item_names(item_t *it, const record_t *rec)
{
	it->id = rec_dup_str(rec, "id");
	it->has_id = it->id != NULL;
	if (!it->id) {
		char buf[64];
		snprintf(buf, sizeof buf, "#%llu", (unsigned long long)rec->index);
		it->id = xstrdup(buf);
	}
	it->path = rec_dup_str(rec, "path");
	if (rec_get_int(rec, "label", &it->label) != 0)
		it->label = -1;
	it->index = rec->index;
}

/* A queued error record for rec. */
static void error_item_fill(item_t *it, const record_t *rec, const char *msg)
{
	it->kind = ITEM_ERROR;
	item_names(it, rec);
	it->message = xstrdup(msg);
}

/* rec failed: a stderr line and its error record, in stream order.
 * located: msg names the stream and record already (the reader's messages
 * do); else rec_where's "stdin: record N (id 'X')" goes before it. */
static void fail_record(run_t *r, const record_t *rec, const char *msg, int located)
{
	char where[320];
	if (located)
		diag_msg("%s", msg);
	else
		diag_msg("%s: %s", rec_where(where, sizeof where, "stdin", rec), msg);
	r->failed++;
	if (r->q.n == 0 && r->fill == 0) {
		rec_write_error_for(r->w, rec, msg);
		return;
	}
	error_item_fill(queue_push(&r->q), rec, msg);
}

/* A float image [3,224,224] must hold finite values within +-65504
 * (float16's largest): a normalized pixel lies within about +-3, and beyond
 * that the network's arithmetic overflows (--fp16 at once, FP32 at values
 * near 3e38), where PyTorch answers NaN and a ReLU here could answer a
 * plausible number. 0, or -1 with msg naming how many and the first. */
static int float_image_check(const tensor_t *t, int f16, int S, char *msg, size_t cap)
{
	const size_t n = (size_t)3 * (size_t)S * (size_t)S;
	size_t nonfinite = 0, big = 0, first_nf = 0, first_big = 0;
	float v_nf = 0, v_big = 0;
	for (size_t i = 0; i < n; i++) {
		float v;
		if (f16) {
			uint16_t h;
			memcpy(&h, (const unsigned char *)t->data + 2 * i, 2);
			v = half_to_float(h);
		} else {
			memcpy(&v, (const unsigned char *)t->data + 4 * i, 4);
		}
		if (!isfinite(v)) {
			if (!nonfinite++) {
				first_nf = i;
				v_nf = v;
			}
		} else if (fabsf(v) > 65504.0f) {
			if (!big++) {
				first_big = i;
				v_big = v;
			}
		}
	}
	if (!nonfinite && !big)
		return 0;
	const size_t plane = (size_t)S * (size_t)S;
	size_t at = nonfinite ? first_nf : first_big;
	char pos[64];
	snprintf(pos, sizeof pos, "[%d,%d,%d]", (int)(at / plane), (int)(at % plane / (size_t)S), (int)(at % (size_t)S));
	if (nonfinite)
		snprintf(msg, cap, "image tensor has %zu non-finite value%s (the first, %s, at %s): a float image must be finite",
			 nonfinite, nonfinite == 1 ? "" : "s", isnan(v_nf) ? "NaN" : v_nf > 0 ? "+Inf" : "-Inf", pos);
	else
		snprintf(msg, cap,
			 "image tensor has %zu value%s beyond +-65504 (the first, %g, at %s): a normalized image lies "
			 "within a few units, and such values overflow the network's arithmetic",
			 big, big == 1 ? "" : "s", (double)v_big, pos);
	return -1;
}

/* Check an image record against the model; fills fmt and the tensor view.
 * 0 ok, else -1 with msg. */
static int image_check(run_t *r, const record_t *rec, tensor_t *t, enc_input_t *fmt, char *msg, size_t cap)
{
	char err[256], shape[96];
	if (!rec_get(rec, "tensor")) {
		snprintf(msg, cap, "image record has no tensor");
		return -1;
	}
	if (rec_get_tensor(rec, "tensor", t, err, sizeof err) != 0) {
		snprintf(msg, cap, "image has no valid tensor: %s", err);
		return -1;
	}
	const char *preset;
	size_t plen;
	if (rec_get_str(rec, "preset", &preset, &plen) == 0 && !net_preset_matches(&r->net, preset, plen)) {
		snprintf(msg, cap, "preset '%.*s' does not match model %s (it needs %s)", (int)plen, preset,
			 r->net.name, r->net.arch.family == NET_CLIP ? "a clip preset" : "imagenet or imagenet-v2");
		return -1;
	}
	const int64_t S = r->net.input_size;
	int hwc = t->ndim == 3 && t->shape[0] == S && t->shape[1] == S && t->shape[2] == 3;
	int chw = t->ndim == 3 && t->shape[0] == 3 && t->shape[1] == S && t->shape[2] == S;
	if (t->dtype == DTYPE_UINT8 && hwc)
		*fmt = ENC_INPUT_U8_HWC;
	else if (t->dtype == DTYPE_FLOAT32 && chw)
		*fmt = ENC_INPUT_F32_CHW;
	else if (t->dtype == DTYPE_FLOAT16 && chw)
		*fmt = ENC_INPUT_F16_CHW;
	else {
		snprintf(msg, cap, "image tensor is %s %s; %s needs uint8 [%d,%d,3] or float32/float16 [3,%d,%d]",
			 dtype_name(t->dtype), tensor_shape_str(t->shape, t->ndim, shape, sizeof shape), r->net.name,
			 (int)S, (int)S, (int)S, (int)S);
		return -1;
	}
	/* imgdecode --mean/--std writes the normalization it used: a float crop is
	 * taken as already normalized, so it must be the model's */
	static const char *const key[2] = {"mean", "std"};
	for (int k = 0; k < 2 && *fmt != ENC_INPUT_U8_HWC; k++) {
		const msgpack_object *o = rec_get(rec, key[k]);
		const float *want = k ? r->net.std : r->net.mean;
		if (!o)
			continue;
		int ok = o->type == MSGPACK_OBJECT_ARRAY && o->via.array.size == 3;
		for (uint32_t c = 0; ok && c < 3; c++) {
			double v;
			ok = obj_get_double(&o->via.array.ptr[c], &v) == 0 && fabs(v - want[c]) <= 1e-6 * fabs(want[c]);
		}
		if (!ok) {
			snprintf(msg, cap, "normalized with another %s than %s's (%g,%g,%g): imgdecode --%s", key[k],
				 r->net.name, want[0], want[1], want[2], key[k]);
			return -1;
		}
	}
	return *fmt == ENC_INPUT_U8_HWC ? 0 : float_image_check(t, *fmt == ENC_INPUT_F16_CHW, (int)S, msg, cap);
}

static void add_image(run_t *r, const record_t *rec)
{
	tensor_t t;
	enc_input_t fmt;
	char msg[512];
	if (image_check(r, rec, &t, &fmt, msg, sizeof msg) != 0) {
		fail_record(r, rec, msg, 0);
		return;
	}
	if (r->fill > 0 && fmt != r->fmt) /* one input format per batch */
		submit_batch(r);
	if (r->fill == 0) {
		r->fmt = fmt;
		r->inbuf = r->be->input(r->enc, fmt);
		if (!r->inbuf)
			diag_fatal("%s: out of memory for the input buffer", r->be->name);
	}
	memcpy((char *)r->inbuf + (size_t)r->fill * t.nbytes, t.data, t.nbytes);

	/* The output record: the image's keys except these, then ours. */
	static const char *const skip[] = {"type", "tensor", "model", "precision", NULL};
	item_t *it = queue_push(&r->q);
	item_names(it, rec);
	it->kind = ITEM_IMAGE;
	it->rb = rec_builder_new(r->w);
	rec_builder_begin(it->rb, r->out_type);
	rb_copy_keys_except(it->rb, rec, skip);
	rb_str(it->rb, "model", r->net.name);
	rb_str(it->rb, "precision", r->precision);
	it->seq = r->seq;
	it->slot = r->fill;
	if (++r->fill == r->batch)
		submit_batch(r);
}

/* ---- weights ---- */

/* The model's published file, the one evaluated with the images' preset
 * where it has several (resnet50: V1 for imagenet, V2 for imagenet-v2). */
static const char *default_weights_name(const net_model_t *m, const char *preset, size_t plen)
{
	for (int i = 0; i < 2 && preset; i++)
		if (m->weights[i].file && strlen(m->weights[i].preset) == plen && memcmp(m->weights[i].preset, preset, plen) == 0)
			return m->weights[i].file;
	return m->weights[0].file;
}

typedef struct {
	const ckpt_t *ck;
	char hex[65];
} hash_job_t;

static void *hash_thread(void *arg)
{
	hash_job_t *j = arg;
	ckpt_sha256(j->ck, j->hex);
	return NULL;
}

/* The wait policy libgomp runs with, for the header: what it read from
 * OMP_WAIT_POLICY at load time (ACTIVE or PASSIVE in any case, spaces around
 * allowed, as libgomp parses it), else "default" (spin a while, then sleep;
 * GOMP_SPINCOUNT sets how long). */
static const char *omp_wait_policy(void)
{
	const char *v = getenv("OMP_WAIT_POLICY");
	if (!v)
		return "default";
	while (isspace((unsigned char)*v))
		v++;
	size_t n = strlen(v);
	while (n > 0 && isspace((unsigned char)v[n - 1]))
		n--;
	if (n == 6 && strncasecmp(v, "active", 6) == 0)
		return "active";
	if (n == 7 && strncasecmp(v, "passive", 7) == 0)
		return "passive";
	return "default";
}

/* One batch of the calibration run: the outputs are not wanted, only what
 * the backend observed on the way, which leaves out an image whose
 * activations overflowed (its output non-finite): skipped with a line and
 * not counted. where: each image's rec_where. */
static void calib_batch(const enc_backend_t *be, encoder_t *enc, enc_input_t fmt, int n, float *out, int dim,
			char (*where)[320], net_calib_t *cal, int *overflowed)
{
	char err[512];
	if (be->submit(enc, fmt, n, err, sizeof err) != 0 || be->wait(enc, out, err, sizeof err) != 0)
		diag_fatal("--calibrate: %s: %s", be->name, err);
	for (int i = 0; i < n; i++)
		for (int k = 0; k < dim; k++)
			if (!isfinite(out[(size_t)i * (size_t)dim + (size_t)k])) {
				diag_msg("%s: the image overflows the FP32 network's arithmetic (skipped)", where[i]);
				cal->images--;
				(*overflowed)++;
				break;
			}
}

/* --calibrate SET: the FP32 network (cfg at FP32, observing) over SET's
 * image records, checked as stdin's are (a bad one is skipped with a
 * line); fills cal with the scales and where they came from. */
static void calibrate(run_t *r, enc_config_t cfg, const char *weights_sha256, net_calib_t *cal)
{
	options_t *o = r->o;
	const enc_backend_t *be = &enc_backend_cpu;
	memset(cal, 0, sizeof *cal);
	cal->n = r->net.nconv;
	cal->scale = xcalloc((size_t)cal->n, sizeof *cal->scale);
	cfg.precision = PREC_FP32;
	cfg.observe = cal->scale;
	char err[1024], msg[512], where[320];
	encoder_t *enc = be->create(&r->net, &cfg, err, sizeof err);
	if (!enc)
		diag_fatal("--calibrate: %s backend: %s", be->name, err);
	rec_reader_t *rd = rec_reader_open(o->calibrate_fd, o->calibrate, o->max_record);
	rec_reader_hash(rd);
	int dim = net_output_dim(&r->net, cfg.features);
	float *out = xmalloc((size_t)cfg.batch * (size_t)dim * sizeof *out);
	char(*slot)[320] = xcalloc((size_t)cfg.batch, sizeof *slot);
	int overflowed = 0;
	enc_input_t fmt = ENC_INPUT_U8_HWC;
	char *buf = NULL;
	int fill = 0;
	record_t rec;
	for (;;) {
		rec_status_t st = rec_reader_next(rd, &rec);
		if (st == REC_EOF)
			break;
		if (st == REC_INVALID) {
			diag_msg("%s", rec_reader_message(rd));
			continue;
		}
		if (st != REC_OK)
			diag_fatal("--calibrate: %s", rec_reader_message(rd));
		if (!rec_is(&rec, "image"))
			continue;
		tensor_t t;
		enc_input_t f;
		if (image_check(r, &rec, &t, &f, msg, sizeof msg) != 0) {
			diag_msg("%s: %s (skipped)", rec_where(where, sizeof where, o->calibrate, &rec), msg);
			continue;
		}
		if (fill && f != fmt) {
			calib_batch(be, enc, fmt, fill, out, dim, slot, cal, &overflowed);
			fill = 0;
		}
		if (!fill && !(buf = be->input(enc, fmt = f)))
			diag_fatal("--calibrate: %s: out of memory for the input buffer", be->name);
		memcpy(buf + (size_t)fill * t.nbytes, t.data, t.nbytes);
		rec_where(slot[fill], sizeof slot[fill], o->calibrate, &rec);
		cal->images++;
		if (++fill == cfg.batch) {
			calib_batch(be, enc, fmt, fill, out, dim, slot, cal, &overflowed);
			fill = 0;
		}
	}
	if (fill)
		calib_batch(be, enc, fmt, fill, out, dim, slot, cal, &overflowed);
	free(slot);
	if (rec_reader_sha256(rd, cal->set_sha256) != 0)
		diag_fatal("--calibrate: %s: internal: no sha256", o->calibrate);
	rec_reader_free(rd);
	close(o->calibrate_fd);
	free(out);
	be->destroy(enc);
	if (!cal->images && overflowed)
		diag_fatal("--calibrate: %s: every image overflows %s's FP32 arithmetic (the lines above): nothing to "
			   "calibrate on",
			   o->calibrate, r->net.name);
	if (!cal->images)
		diag_fatal("--calibrate: %s: no image record for %s to calibrate on", o->calibrate, r->net.name);
	/* an input that was 0 (or as good as) in every image has no scale: any
	 * would quantize what real images bring to 0 or saturate it, a constant
	 * network with exit 0 (one all-zero image did that) */
	for (int i = 0; i < cal->n; i++)
		if (!net_calib_scale_ok(cal->scale[i]))
			diag_fatal("--calibrate: %s: convolution %d's input was %s on all %lld image(s) (scale %g): "
				   "calibrate on images like those to be encoded",
				   o->calibrate, i, cal->scale[i] > 0 ? "out of range" : "0", (long long)cal->images,
				   (double)cal->scale[i]);
	snprintf(cal->model, sizeof cal->model, "%s", r->net.name);
	snprintf(cal->weights_sha256, sizeof cal->weights_sha256, "%s", weights_sha256);
	snprintf(cal->observer, sizeof cal->observer, "minmax");
	cal->set = xstrdup(o->calibrate);
}

/* --calibration FILE against the network loaded: its model, weights and
 * number of convolutions. */
static void calibration_check(const run_t *r, const net_calib_t *c, const char *path, const char *wpath,
			      const char *weights_sha256)
{
	if (strcmp(c->model, r->net.name) != 0)
		diag_fatal("--calibration: %s: a calibration of %s, not of %s", path, c->model, r->net.name);
	if (strcmp(c->weights_sha256, weights_sha256) != 0)
		diag_fatal("--calibration: %s: made with weights of sha256 %.16s..., not %s (sha256 %.16s...)", path,
			   c->weights_sha256, wpath, weights_sha256);
	if (c->n != r->net.nconv)
		diag_fatal("--calibration: %s: %d scales, but %s has %d convolutions", path, c->n, r->net.name,
			   r->net.nconv);
}

/* Load the model and start the backend; then write our header. */
/* model: a known model (--model, or the preset's without --weights), or
 * NULL for what --weights holds. */
static void start(run_t *r, int argc, char **argv, const net_model_t *model, const char *preset, size_t plen)
{
	options_t *o = r->o;
	char *wpath = o->weights ? xstrdup(o->weights) : weights_path(default_weights_name(model, preset, plen));
	if (!o->weights && access(wpath, R_OK) != 0)
		diag_fatal("no %s weights at %s: run `make weights` to fetch them, or pass --weights FILE",
			   model->name, wpath);
	char err[1024];
	ckpt_t *ck = ckpt_open(wpath, err, sizeof err);
	if (!ck)
		diag_fatal("%s", err);
	/* The header's sha256, of the bytes loaded (255 MB for RN50.pt): beside
	 * the binding, not after it. */
	hash_job_t hash = {.ck = ck};
	pthread_t tid;
	int threaded = pthread_create(&tid, NULL, hash_thread, &hash) == 0;
	if (!threaded)
		hash_thread(&hash);
	if (net_load(&r->net, ck, model ? model->name : NULL, err, sizeof err) != 0)
		diag_fatal("%s: %s", wpath, err);
	const char *fmtname = ckpt_format_name(ckpt_format(ck));
	if (threaded)
		pthread_join(tid, NULL);
	ckpt_free(ck);

	r->be = DEVICE_BACKEND(o->device, o->gpu, &enc_backend_cpu, &enc_backend_cuda);
	r->batch = o->batch ? o->batch : r->be == &enc_backend_cpu ? DEFAULT_BATCH_CPU : DEFAULT_BATCH_CUDA;
	int on_cpu = r->be == &enc_backend_cpu;
	precision_t prec = o->precision;
	if (on_cpu && prec == PREC_TF32) {
		diag_msg("--precision tf32: no TF32 on the CPU: computing in FP32");
		prec = PREC_FP32;
	}
	enc_config_t cfg = {.precision = prec,
			    .batch = r->batch,
			    .threads = o->threads,
			    .features = o->features,
			    .device = o->gpu,
			    .mem_trace = o->mem_trace};
	if (on_cpu && o->mem_trace)
		diag_msg("--mem-trace: the CPU backend writes no trace (its stats record has the peak)");
	if (o->features && r->net.features < 0)
		diag_fatal("--features is for torchvision ResNets; %s holds %s", wpath, r->net.name);
	/* INT8 on the CPU: the scales, calibrated now or loaded (another
	 * backend refuses int8 at create, naming what it computes) */
	net_calib_t made = {0};
	const net_calib_t *cal = NULL;
	if (prec == PREC_INT8 && on_cpu) {
		if (o->calibrate) {
			calibrate(r, cfg, hash.hex, &made);
			cal = &made;
			if (o->save_calibration) {
				net_calib_write(o->save_calibration, &made);
				/* read back: the file is what a later --calibration gets,
				 * and its sha256 goes into the header */
				net_calib_t back;
				if (net_calib_read(o->save_calibration, &back, err, sizeof err) != 0)
					diag_fatal("--save-calibration: %s", err);
				snprintf(made.sha256, sizeof made.sha256, "%s", back.sha256);
				net_calib_free(&back);
			}
		} else {
			calibration_check(r, &o->calib, o->calibration, wpath, hash.hex);
			cal = &o->calib;
		}
		cfg.int8_scale = cal->scale;
	}
	r->enc = r->be->create(&r->net, &cfg, err, sizeof err);
	if (!r->enc)
		diag_fatal("%s backend: %s", r->be->name, err);
	r->out_dim = net_output_dim(&r->net, o->features);
	r->out_type = o->features ? "features" : r->net.out_type;
	/* TF32 stores FP32: the record says so, and "math" says how it was multiplied */
	r->precision = precision_name(prec == PREC_TF32 ? PREC_FP32 : prec);
	r->out = xmalloc((size_t)r->batch * (size_t)r->out_dim * sizeof *r->out);

	enc_stats_t st;
	r->be->stats(r->enc, &st);
	if (st.note[0])
		diag_msg("%s", st.note);
	rec_builder_t *b = rec_begin_header(r->w, argc, argv);
	rb_str(b, "model", r->net.name);
	rb_str(b, "output", r->out_type);
	rb_str(b, "weights", wpath);
	rb_str(b, "weights_sha256", hash.hex);
	rb_str(b, "weights_format", fmtname);
	rb_str(b, "precision", r->precision);
	rb_str(b, "math", precision_name(prec));
	rb_str(b, "device", st.device);
	rb_int(b, "threads", st.threads);
	rb_int(b, "batch", r->batch);
	rb_str(b, "omp_wait_policy", omp_wait_policy());
	if (cal) { /* the INT8 scales' provenance */
		if (o->calibrate) {
			rb_str(b, "calibration_set", cal->set);
			rb_str(b, "calibration_set_sha256", cal->set_sha256);
			rb_int(b, "calibration_images", cal->images);
		}
		const char *file = o->calibrate ? o->save_calibration : o->calibration;
		if (file) {
			rb_str(b, "calibration", file);
			rb_str(b, "calibration_sha256", cal->sha256);
		}
		rb_str(b, "calibration_observer", cal->observer);
	}
	rec_end(b);
	net_calib_free(&made);
	free(wpath);
}

static void write_stats(run_t *r)
{
	enc_stats_t st;
	r->be->stats(r->enc, &st);
	double secs = time_now() - r->t_start;
	rec_builder_t *b = rec_begin(r->w, "stats");
	rb_str(b, "producer", diag_prog());
	rb_str(b, "model", r->net.name);
	rb_str(b, "precision", r->precision);
	rb_str(b, "device", st.device);
	rb_int(b, "threads", st.threads);
	rb_int(b, "batch", r->batch);
	rb_int(b, "images", r->images);
	rb_int(b, "failed", r->failed);
	rb_int(b, "batches", st.batches);
	rb_double(b, "seconds", secs);
	rb_double(b, "images_per_s", secs > 0 ? (double)r->images / secs : 0.0);
	rb_int(b, "timed_batches", st.timed_batches);
	rb_double(b, "batch_mean_s", st.batch_mean_s);
	rb_double(b, "batch_std_s", st.batch_std_s);
	rb_double(b, "batch_min_s", st.batch_min_s);
	rb_double(b, "image_mean_s", st.image_mean_s);
	rb_double(b, "image_std_s", st.image_std_s);
	rb_int(b, "peak_memory_bytes", (int64_t)st.peak_bytes);
	rb_int(b, "weight_bytes", (int64_t)st.weight_bytes);
	rb_int(b, "activation_bytes", (int64_t)st.activation_bytes);
	rb_int(b, "peak_rss_bytes", mem_peak_rss());
	rec_end(b);
}

/* oneDNN's OpenMP threads spin-wait between layers by default. When other
 * stages of a pipeline share the cores (imgdecode -j N | rnencode), a thread
 * spinning while its partner is descheduled stalls every layer: measured on
 * 2 busy cores, 0.89 s per ResNet-50 image spinning, 0.19 s sleeping. libgomp
 * reads its wait policy only at load time, so without a user setting we set
 * OMP_WAIT_POLICY=PASSIVE and start again, before reading anything. */
static void omp_passive_reexec(char **argv)
{
	if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT"))
		return;
	if (setenv("OMP_WAIT_POLICY", "PASSIVE", 1) != 0)
		return;
	execv("/proc/self/exe", argv);
	/* no /proc: go on with libgomp's default, and say so in the header */
	unsetenv("OMP_WAIT_POLICY");
}

int main(int argc, char **argv)
{
	diag_init(argv[0]);
	/* first: the options' notes and errors then come once, from the new image */
	omp_passive_reexec(argv);
	options_t o;
	parse_args(argc, argv, &o);
	rec_writer_t *w = rec_writer_stdout(0);
	rec_reader_t *rd = rec_reader_open(0, "stdin", o.max_record);
	if (!rd)
		diag_fatal("stdin: %s", strerror(errno));
	run_t r = {.o = &o, .w = w, .t_start = time_now(), .rd = rd};
	struct stat in_st;
	if (fstat(STDIN_FILENO, &in_st) == 0 && S_ISREG(in_st.st_mode)) {
		off_t at = lseek(STDIN_FILENO, 0, SEEK_CUR);
		r.in_size = in_st.st_size - (at > 0 ? at : 0);
	}

	/* Records before the first image wait here until the model (--model,
	 * else the image's preset) and its weights (imagenet-v2 crops take
	 * resnet50's V2 file) are known and our header is out. */
	queue_t early = {0};
	int started = 0;
	record_t rec;
	for (;;) {
		rec_status_t st = rec_reader_next(rd, &rec);
		if (st == REC_EOF)
			break;
		if (st != REC_OK && st != REC_INVALID) {
			/* what came before goes out whole; our header alone is no output */
			if (started) {
				finish_all(&r);
				if (rec_writer_records(w) > 1)
					rec_writer_flush(w);
			}
			diag_fatal("%s", rec_reader_message(rd));
		}
		if (!started && (st == REC_INVALID || !rec_is(&rec, "image"))) {
			item_t *it = queue_push(&early);
			it->kind = ITEM_RAW;
			if (st == REC_INVALID) { /* turn it into its error record later */
				error_item_fill(it, &rec, rec_reader_message(rd));
				diag_msg("%s", rec_reader_message(rd));
				r.failed++;
			} else {
				it->bytes = xmemdup(rec.raw, rec.raw_len);
				it->len = rec.raw_len;
				early.held_bytes += rec.raw_len; /* counted as pass_or_queue counts */
			}
			continue;
		}
		if (!started) {
			const char *preset = NULL; /* stays NULL without a "preset" str */
			size_t plen = 0;
			const char *name = o.model;
			rec_get_str(&rec, "preset", &preset, &plen);
			if (!name && !o.weights && (!preset || !(name = net_default_model_for_preset(preset, plen))))
				diag_fatal("record %llu: the first image has no known preset (clip, clip-288, clip-384, "
					   "clip-448, imagenet, imagenet-v2) to choose the model from: pass --model or "
					   "--weights",
					   (unsigned long long)rec.index);
			start(&r, argc, argv, name ? net_model_find(name) : NULL, preset, plen);
			started = 1;
			r.q = early; /* in order, ahead of everything else */
			memset(&early, 0, sizeof early);
			queue_drain(&r);
		}
		if (st == REC_INVALID) {
			fail_record(&r, &rec, rec_reader_message(rd), 1);
			continue;
		}
		if (rec_is(&rec, "image"))
			add_image(&r, &rec);
		else
			pass_or_queue(&r, &rec);
	}
	if (!started && o.calibrate) {
		/* --calibrate measures on its own set: stdin without an image still
		 * gets the calibration made (and saved), not an exit 0 without it */
		if (!o.model && !o.weights)
			diag_fatal("--calibrate: stdin has no image record to choose the model from: pass --model or "
				   "--weights");
		start(&r, argc, argv, o.model ? net_model_find(o.model) : NULL, NULL, 0);
		started = 1;
		r.q = early;
		memset(&early, 0, sizeof early);
		queue_drain(&r);
	}
	if (!started) {
		/* No image at all: nothing to encode, the weights (checked in parse_args) not read. */
		rec_builder_t *b = rec_begin_header(w, argc, argv);
		rb_str(b, "model", o.model);
		rec_end(b);
		r.q = early;
		queue_drain(&r);
		/* the stats record still ends the stream: readers count on it */
		b = rec_begin(w, "stats");
		rb_str(b, "producer", diag_prog());
		rb_str(b, "model", o.model);
		rb_int(b, "images", 0);
		rb_int(b, "failed", r.failed);
		rb_double(b, "seconds", time_now() - r.t_start);
		rec_end(b);
	} else {
		finish_all(&r);
		diag_progress_done();
		write_stats(&r);
		r.be->destroy(r.enc);
		net_free(&r.net);
	}
	free(r.q.v);
	free(r.out);
	net_calib_free(&o.calib);
	rec_reader_free(rd);
	rec_writer_close(w);
	return r.failed ? EXIT_SOME_FAILED : EXIT_OK;
}
