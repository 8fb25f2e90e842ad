/* brace.h - shell-style brace expansion of a name pattern, as WebDataset
 * users name shard sets ("shards/part-{000..099}.tar", quoted so that the
 * shell leaves it alone), following bash and Python's braceexpand:
 *   {A..B}     decimal integers from A to B (either may be negative; B < A
 *              counts down); when A or B is written with a leading zero
 *              ("007", "-05"), every number is zero-padded to the longer of
 *              the two, sign included: {8..010} -> 008 009 010
 *   {a..e}     single letters, by their ASCII codes (as bash: {Z..a} holds
 *              the six characters between the cases too)
 *   {A..B..S}  either range in steps of |S| (S 0 is 1): {0..10..5} -> 0 5 10
 *   {x,y,...}  each item in turn (items may be empty, and may hold braces)
 * Groups multiply left to right: "a{1,2}b{x,y}" -> a1bx a1by a2bx a2by.
 * Every '{' must open a group of one of these two kinds and every '}' close
 * one: anything else ("{a}", "{1..}", "x}") is malformed, not kept literally
 * as bash would, so that a typo is reported instead of read as a file name.
 * No backslash escapes.
 */
#ifndef COMMON_BRACE_H
#define COMMON_BRACE_H

#include <stddef.h>

enum { BRACE_PATTERN_MAX = 4096 }; /* longer patterns are refused */

typedef struct {
	char **v; /* malloc'd names */
	size_t n;
} brace_list_t;

/* Expand pattern into *out (names in order). Returns 0, or -1 with err set
 * (malformed pattern, more than max_names names, longer than
 * BRACE_PATTERN_MAX, out of memory) and *out empty. */
int brace_expand(const char *pattern, size_t max_names, brace_list_t *out, char *err, size_t errlen);
void brace_list_free(brace_list_t *l);

#endif
