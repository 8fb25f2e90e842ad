/* prompts.h - txtencode's prompt sets: every class name filled into every
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
#ifndef COMMON_PROMPTS_H
#define COMMON_PROMPTS_H

#include <stddef.h>
#include <stdint.h>

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
