/* json.h - writing JSON text: escaped strings and msgpack objects. */
#ifndef COMMON_JSON_H
#define COMMON_JSON_H

#include <msgpack.h>
#include <stdio.h>

/* A JSON string literal of s[0, n): valid UTF-8 passed through, control
 * characters (C0, DEL and C1) as \uXXXX, and each byte that is not UTF-8
 * as the text \xNN (the JSON "\\xNN"), as pk_strn writes such bytes into
 * records: so every line loads in a strict reader (Python's json.loads)
 * and prints nothing a terminal would take for an escape. */
void json_put_str(FILE *f, const char *s, size_t n);
void json_put_cstr(FILE *f, const char *s);
/* A finite double as JSON (NaN/Inf become null: JSON has no spelling for them). */
void json_put_double(FILE *f, double v);

/* How tensors (maps with dtype/shape/data) are printed by json_put_object. */
typedef enum {
	JSON_TENSOR_SUMMARY, /* {"dtype","shape","min","max","mean","first":[..8]} */
	JSON_TENSOR_FULL     /* summary plus "values": every element */
} json_tensor_mode_t;

/* msgpack object as JSON; bin that is not part of a tensor prints as {"bin": N}. */
void json_put_object(FILE *f, const msgpack_object *o, json_tensor_mode_t mode);

#endif
