/* ckptinfo - list the tensors of checkpoint files, without running anything.
 *
 * Records in: none (checkpoint files named on the command line). Out: text on
 * stdout, never records:
 *   default   a few "# key: value" lines (file, format, size, sha256, tensor
 *             count, model), then one tab-separated line per tensor:
 *             name, dtype, shape, bytes [, sha256 of its bytes]
 *   --json    one JSON object per file and line instead
 * Formats: PyTorch zip (torch.save), TorchScript archives (torch.jit.save, e.g.
 * OpenAI's RN50.pt), legacy torch.save, safetensors; told from the bytes. The
 * reader (common/ckpt/ckpt.c) executes nothing and refuses a hostile or damaged file
 * with one line naming what is wrong.
 * Exit 1 when a file cannot be read or is refused (the rest are still
 * listed), 2 for usage errors.
 * model: which ResNet the tensor names and shapes describe, read as rnencode
 * reads it (model/net.c's net_probe): a published name (resnet50, clip-rn50x4),
 * a description of an unlisted variant, or none with the reason. It does not
 * check every tensor against the model (rnencode does that when it binds
 * weights) and does not convert files.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt/ckpt.h"
#include "model/net.h"
#include "util/util.h"
#include "stream/stream.h"

typedef struct {
	int json;
	int tensor_sha256;
	int file_sha256;
	int read_all;
	char **files;
	int nfiles;
} options_t;

DIAG_NORETURN static void usage(void)
{
	printf("Usage: ckptinfo [OPTIONS] CHECKPOINT...\n"
	       "List the tensors of checkpoint files: name, dtype, shape and bytes, with\n"
	       "the file's format and sha256. Reads PyTorch zip files (torch.save),\n"
	       "TorchScript archives (torch.jit.save, e.g. OpenAI's RN50.pt), legacy\n"
	       "torch.save files and safetensors, telling them apart by their bytes.\n"
	       "Nothing in a file is executed; a hostile or damaged file is refused with\n"
	       "one line saying what is wrong. The model line says which ResNet the\n"
	       "tensors describe, as rnencode --model auto reads them: a published name\n"
	       "(resnet50, clip-rn50x4, ...), a description of another variant of those\n"
	       "families, or none and why.\n"
	       "\n"
	       "      --json            one JSON object per file (one line each)\n"
	       "      --tensor-sha256   also the sha256 of each tensor's bytes (C order,\n"
	       "                        little-endian, as stored)\n"
	       "      --no-file-sha256  skip the whole-file sha256 (faster on big files)\n"
	       "      --read            read every tensor byte once and print a checksum\n"
	       "                        line (for timing a full load)\n"
	       "  -h, --help            this help\n"
	       "      --version         print the version and exit\n"
	       "\n"
	       "Examples:\n"
	       "  ckptinfo ~/.cache/rnencode/weights/RN50.pt | grep attnpool\n"
	       "  ckptinfo --json --tensor-sha256 resnet50.safetensors > sums.json\n"
	       "  ckptinfo --no-file-sha256 a.pth b.pth | grep '^#'  # formats, counts\n"
	       "\n"
	       "Exit status: 0 ok; 1 a file could not be read or is not a valid checkpoint\n"
	       "(the others are still listed); 2 usage error, stdout write error.\n");
	diag_help_done();
}

static void parse_args(int argc, char **argv, options_t *o)
{
	enum { O_JSON = 256, O_TSHA, O_NOSHA, O_READ };
	static const struct option longopts[] = {
		{"json", no_argument, NULL, O_JSON},      {"tensor-sha256", no_argument, NULL, O_TSHA},
		{"no-file-sha256", no_argument, NULL, O_NOSHA}, {"read", no_argument, NULL, O_READ},
		{"help", no_argument, NULL, 'h'},         OPT_VERSION_ENTRY, {NULL, 0, NULL, 0}};
	memset(o, 0, sizeof *o);
	o->file_sha256 = 1;
	int c;
	while ((c = opt_next(argc, argv, "jsHrh", longopts)) != -1) {
		switch (c) {
		case 'j': opt_old_spelling("-j", "--json"); /* fall through */
		case O_JSON: o->json = 1; break;
		case 's': opt_old_spelling("-s", "--tensor-sha256"); /* fall through */
		case O_TSHA: o->tensor_sha256 = 1; break;
		case 'H': opt_old_spelling("-H", "--no-file-sha256"); /* fall through */
		case O_NOSHA: o->file_sha256 = 0; break;
		case 'r': opt_old_spelling("-r", "--read"); /* fall through */
		case O_READ: o->read_all = 1; break;
		case 'h': usage();
		default: diag_usage_hint(); /* getopt said why */
		}
	}
	o->files = argv + optind;
	o->nfiles = argc - optind;
	if (o->nfiles == 0)
		diag_usage("no checkpoint file given");
}

/* A name as one tab-separated field of one line, UTF-8 text: escaped as
 * diagnostics are, and the tab (the field separator) and the backslash
 * too, so that distinct names print distinctly. */
static void put_text_name(const char *s)
{
	size_t n = strlen(s);
	for (size_t i = 0; i < n;) {
		size_t k = diag_ctl_len(s + i, n - i);
		if (k) {
			diag_put_ctl(stdout, s + i, k);
			i += k;
		} else if (s[i] == '\t' || s[i] == '\\') {
			fputs(s[i] == '\t' ? "\\t" : "\\\\", stdout);
			i++;
		} else {
			k = diag_char_len(s + i, n - i);
			fwrite(s + i, 1, k, stdout);
			i += k;
		}
	}
}

/* Sum of every byte as 64-bit words: forces each page of the tensor in. */
static unsigned long long touch(const void *data, size_t n)
{
	const unsigned char *p = data;
	unsigned long long s = 0;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		unsigned long long w;
		memcpy(&w, p + i, 8);
		s += w;
	}
	for (; i < n; i++)
		s += p[i];
	return s;
}

/* The model the tensors describe: 0 and its name, or -1 and why not. */
static int model_of(const ckpt_t *c, char *buf, size_t cap)
{
	net_arch_t a;
	if (net_probe(c, &a, buf, cap) != 0)
		return -1;
	net_arch_name(&a, buf, cap);
	return 0;
}

static void list_text(const options_t *o, const char *path, const ckpt_t *c, const char *hex)
{
	size_t n = ckpt_count(c), total = 0;
	for (size_t i = 0; i < n; i++)
		total += ckpt_entry(c, i)->t.nbytes;
	printf("# file: ");
	put_text_name(path);
	printf("\n# format: %s\n# size: %zu\n", ckpt_format_name(ckpt_format(c)), ckpt_file_size(c));
	if (hex)
		printf("# sha256: %s\n", hex);
	printf("# tensors: %zu (%zu bytes)\n", n, total);
	char model[1024];
	int known = model_of(c, model, sizeof model) == 0;
	printf("# model: %s", known ? "" : "none (");
	put_text_name(model);
	printf("%s\n", known ? "" : ")");
	for (size_t i = 0; i < n; i++) {
		const ckpt_entry_t *e = ckpt_entry(c, i);
		char shape[256];
		put_text_name(e->name);
		printf("\t%s\t%s\t%zu", dtype_name(e->t.dtype), tensor_shape_str(e->t.shape, e->t.ndim, shape, sizeof shape),
		       e->t.nbytes);
		if (o->tensor_sha256) {
			char th[65];
			sha256_hex(e->t.data, e->t.nbytes, th);
			printf("\t%s", th);
		}
		putchar('\n');
	}
}

/* --read: every tensor byte touched once, and how long that and the open took. */
typedef struct {
	size_t bytes;
	unsigned long long checksum;
	double open_s, read_s;
} read_info_t;

static void list_json(const options_t *o, const char *path, const ckpt_t *c, const char *hex, const read_info_t *rd)
{
	printf("{\"file\":");
	json_put_cstr(stdout, path);
	printf(",\"format\":\"%s\",\"size\":%zu", ckpt_format_name(ckpt_format(c)), ckpt_file_size(c));
	if (hex)
		printf(",\"sha256\":\"%s\"", hex);
	if (rd)
		printf(",\"read\":{\"bytes\":%zu,\"checksum\":\"%016llx\",\"open_s\":%.6f,\"read_s\":%.6f}", rd->bytes,
		       rd->checksum, rd->open_s, rd->read_s);
	char model[1024];
	if (model_of(c, model, sizeof model) == 0) {
		printf(",\"model\":");
		json_put_cstr(stdout, model);
	} else {
		printf(",\"model\":null,\"model_why\":");
		json_put_cstr(stdout, model);
	}
	printf(",\"tensors\":[");
	for (size_t i = 0; i < ckpt_count(c); i++) {
		const ckpt_entry_t *e = ckpt_entry(c, i);
		printf("%s{\"name\":", i ? "," : "");
		json_put_cstr(stdout, e->name);
		printf(",\"dtype\":\"%s\",\"shape\":[", dtype_name(e->t.dtype));
		for (int d = 0; d < e->t.ndim; d++)
			printf("%s%lld", d ? "," : "", (long long)e->t.shape[d]);
		printf("],\"nbytes\":%zu", e->t.nbytes);
		if (o->tensor_sha256) {
			char th[65];
			sha256_hex(e->t.data, e->t.nbytes, th);
			printf(",\"sha256\":\"%s\"", th);
		}
		putchar('}');
	}
	printf("]}\n");
}

int main(int argc, char **argv)
{
	diag_init(argv[0]);
	options_t o;
	parse_args(argc, argv, &o);
	int failed = 0;
	for (int f = 0; f < o.nfiles; f++) {
		const char *path = o.files[f];
		char err[1024];
		double t0 = time_now();
		ckpt_t *c = ckpt_open(path, err, sizeof err);
		if (!c) {
			diag_msg("%s", err);
			failed = 1;
			continue;
		}
		double t1 = time_now();
		char hexbuf[65], *hex = NULL;
		if (o.file_sha256) { /* of the bytes listed */
			ckpt_sha256(c, hexbuf);
			hex = hexbuf;
		}
		read_info_t rd = {.open_s = t1 - t0};
		if (o.read_all) {
			double t2 = time_now();
			for (size_t i = 0; i < ckpt_count(c); i++) {
				const ckpt_entry_t *e = ckpt_entry(c, i);
				rd.checksum += touch(e->t.data, e->t.nbytes);
				rd.bytes += e->t.nbytes;
			}
			rd.read_s = time_now() - t2;
		}
		if (o.json) {
			list_json(&o, path, c, hex, o.read_all ? &rd : NULL);
		} else {
			list_text(&o, path, c, hex);
			if (o.read_all)
				printf("# read: %zu bytes, checksum %016llx, open %.6f s, read %.6f s\n", rd.bytes, rd.checksum,
				       rd.open_s, rd.read_s);
		}
		ckpt_free(c);
	}
	if (fflush(stdout) != 0 || ferror(stdout) || fclose(stdout) != 0)
		diag_fatal("stdout: write error: %s", strerror(errno));
	return failed ? EXIT_SOME_FAILED : EXIT_OK;
}
