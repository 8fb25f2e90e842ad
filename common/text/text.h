/* text.h - text for CLIP's text encoder: the tokenizer (bpe) and prompt
 * lists and templates (prompts). Includes util only.
 */
#ifndef COMMON_TEXT_TEXT_H
#define COMMON_TEXT_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

/* ---- bpe.c ----
 * CLIP's text tokenizer (openai/CLIP clip/simple_tokenizer.py and
 * clip.tokenize) in C: the same cleanup, the same pre-tokenizing pattern,
 * the same byte-level BPE, the same ids.
 *
 * encode(text) = BPE over the pieces of
 *   lower(whitespace_clean(basic_clean(text)))
 *   basic_clean      = strip(html.unescape(html.unescape(ftfy.fix_text(text))))
 *   whitespace_clean = strip(regex.sub(r'\s+', ' ', text))
 *   pieces           = regex.findall(r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|
 *                      've|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+", IGNORECASE)
 * tokenize(text) = [49406] + encode(text) + [49407], at most 77 ids (truncation,
 * when asked, keeps the first 76 and puts 49407 last, as clip.tokenize does).
 *
 * Where this departs from CLIP's Python: ftfy.fix_text is reproduced step by
 * step (HTML entities, C1 controls, Latin ligatures, character width, curly
 * quotes, line breaks, terminal escapes, control characters, NFC, repeated
 * until nothing changes) EXCEPT its mojibake repair (ftfy's fix_encoding:
 * re-decoding text that "looks like" UTF-8 read as Latin-1/Windows-1252/...,
 * chosen by a heuristic). Text that ftfy would judge to be mojibake, such as
 * "cafÃ©", is tokenized as written here, while CLIP would first turn it into
 * "café". Clean text is never touched by that step, so its ids are equal.
 * Input must be valid UTF-8 (Python strings cannot hold invalid UTF-8 either).
 *
 * Vocabulary file (bpe_simple_vocab_16e6.txt.gz): gzip of UTF-8 text lines;
 * line 1 is a header ("#version: 0.2"), lines 2..48895 are merges "A B" in
 * rank order, the rest is unused. A and B are strings of bytes_to_unicode()
 * characters (each byte 0..255 shown as one printable code point), B may end
 * in "</w>" (end of word). Ids: 0..255 the 256 byte characters in
 * bytes_to_unicode() order, 256..511 the same with "</w>", then one per
 * merge (its concatenation), then <|startoftext|> 49406, <|endoftext|> 49407.
 */

enum {
	BPE_CONTEXT = 77,       /* CLIP's context length */
	BPE_MERGES = 48894      /* merges CLIP reads: 49152 - 256 - 2 */
};

typedef struct bpe bpe_t;

/* Read the vocabulary (format above). NULL with a one-line message in err. */
bpe_t *bpe_load(const char *path, char *err, size_t errcap);
void bpe_free(bpe_t *b);
int32_t bpe_sot(const bpe_t *b); /* 49406 */
int32_t bpe_eot(const bpe_t *b); /* 49407 */

/* A growable list of token ids. */
typedef struct {
	int32_t *v;
	size_t n, cap;
} bpe_ids_t;
void bpe_ids_free(bpe_ids_t *ids);

/* encode(text) appended to ids (no start/end tokens). text is UTF-8 of len
 * bytes. 0, or -1 with a message in err (invalid UTF-8, out of memory). */
int bpe_encode(bpe_t *b, const char *text, size_t len, bpe_ids_t *ids, char *err, size_t errcap);

/* clip.tokenize for one text: ids = [sot] + encode(text) + [eot], replacing
 * the contents of ids. Returns the full length before any truncation (so the
 * caller can tell an over-long text), or -1 with a message in err. With
 * truncate and a length over context, ids keeps context ids, the last eot. */
long bpe_tokenize(bpe_t *b, const char *text, size_t len, int context, int truncate, bpe_ids_t *ids,
		  char *err, size_t errcap);

/* The cleaned, lower-cased text that encode() splits (UTF-8, malloc'd, NUL-
 * terminated), or NULL with a message in err. For tests and diagnostics. */
char *bpe_clean_text(const char *text, size_t len, char *err, size_t errcap);

/* ---- prompts.c ----
 * txtencode's prompt sets: every class name filled into every
 * template, or per-class prompt lists read from JSON.
 *
 * Templates follow Python's str.format for the forms CLIP's templates use:
 * "{}" and "{0}" insert the name, "{{" and "}}" are literal braces; anything
 * else with a brace, and "{}" mixed with "{0}" in one template, is refused
 * (prompt_format), as Python refuses it or would need more arguments.
 *
 * The JSON form is the {"class name": ["prompt", ...], ...} object of
 * CLIP_benchmark and CuPL, byte by byte as RFC 8259 has it for this shape:
 *   ws '{' ws string ws ':' ws '[' ws string (ws ',' ws string)* ws ']'
 *      (ws ',' ws string ws ':' ...)* ws '}' ws
 * ws is space, tab, LF, CR; strings decode the escapes \" \\ \/ \b \f \n \r
 * \t \uXXXX (surrogate pairs joined, lone surrogates refused) and refuse raw
 * control characters; \u0000 and NUL bytes are refused (prompts are C
 * strings). A class may not appear twice nor have an empty list. Nothing else
 * of JSON (numbers, nesting beyond this) is accepted.
 */

/* The prompt set: K classes, P prompts (class-major). */
typedef struct {
	char **names;     /* [K] */
	int64_t k;
	char **templates; /* [T], grid form only (NULL for JSON) */
	int64_t t;
	char **texts;     /* [P] */
	int *cls;         /* [P] class of each prompt */
	int *slot;        /* [P] template index, or index within the class (JSON) */
	int p, cap;
} prompts_t;

void prompts_free(prompts_t *ps);

/* tpl.format(name) (rules above): malloc'd, or NULL with *why. */
char *prompt_format(const char *tpl, const char *name, const char **why);

/* names [k] x templates [t], both lists owned by ps from here on (also on
 * failure). 0, or -1 with "PATH: template N '...': why" in err, PATH being
 * templates_path. */
int prompts_from_grid(prompts_t *ps, char **names, int64_t k, char **templates, int64_t t,
		      const char *templates_path, char *err, size_t cap);

/* The JSON object text [len] (rules above). 0, or -1 with "PATH: byte N:
 * what" (1-based) or "PATH: class 'x' ..." in err; ps holds what was read
 * so far either way (prompts_free it). */
int prompts_from_json(prompts_t *ps, const char *text, size_t len, const char *path, char *err, size_t cap);

#endif
