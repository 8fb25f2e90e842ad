/* test_scoring - common/eval/scoring.c and common/eval/classes.c on hand-worked cases:
 * top-k ties and NaN, softmax with large logits, cosines, template
 * averaging, the id map under growth, name and index files. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval.h"
#include "util/util.h"

static int failures;

#define CHECK(cond)                                                                      \
	do {                                                                             \
		if (!(cond)) {                                                           \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			failures++;                                                      \
		}                                                                        \
	} while (0)

static int near(double a, double b, double tol)
{
	return fabs(a - b) <= tol;
}

static void test_topk(void)
{
	/* ties go to the lower class index, NaN ranks last */
	const float v[6] = {0.1f, 0.3f, 0.3f, NAN, 0.2f, 0.1f};
	int64_t idx[6];
	vec_topk(v, NULL, 6, 6, idx);
	const int64_t want[6] = {1, 2, 4, 0, 5, 3};
	CHECK(memcmp(idx, want, sizeof want) == 0);
	vec_topk(v, NULL, 6, 2, idx);
	CHECK(idx[0] == 1 && idx[1] == 2);
	/* through a class map: positions 0,1 are classes 9,4; the tie goes to class 4 */
	const float w[3] = {0.4f, 0.4f, 0.2f};
	const int64_t cls[3] = {9, 4, 7};
	vec_topk(w, cls, 3, 3, idx);
	CHECK(idx[0] == 1 && idx[1] == 0 && idx[2] == 2);
}

static void test_softmax(void)
{
	/* (1,2,3,3): e^-2, e^-1, 1, 1 over 2.503215 */
	float z[4] = {1, 2, 3, 3};
	vec_softmax(z, z, 4);
	CHECK(near(z[0], 0.0540641, 1e-6) && near(z[1], 0.1469628, 1e-6) && near(z[2], 0.3994866, 1e-6));
	CHECK(z[2] == z[3]);
	/* logits of 100 would overflow expf without the max subtracted */
	float big[3] = {100, 0, 60};
	vec_softmax(big, big, 3);
	CHECK(big[0] == 1.0f && near(big[2] / 4.248354e-18, 1, 1e-5) && big[1] < 1e-40f);
	float bad[3] = {1, NAN, INFINITY};
	CHECK(vec_count_nonfinite(bad, 3) == 2);
}

static void test_rows(void)
{
	/* [K=2,T=2,D=2]: class 0 templates (3,4), (0,2) -> normalized (0.6,0.8), (0,1),
	 * mean (0.3,0.9), normalized (0.316228, 0.948683); class 1 (2,0) twice -> (1,0) */
	const float kt[8] = {3, 4, 0, 2, 2, 0, 2, 0};
	const int64_t shape[3] = {2, 2, 2};
	float *rows;
	int64_t k, d, t;
	char err[256];
	CHECK(classes_build_rows(DTYPE_FLOAT32, kt, 3, shape, 0, &rows, &k, &d, &t, err, sizeof err) == 0);
	CHECK(k == 2 && d == 2 && t == 2);
	CHECK(near(rows[0], 0.3162278, 1e-6) && near(rows[1], 0.9486833, 1e-6));
	CHECK(rows[2] == 1 && rows[3] == 0);
	classes_t c;
	classes_init(&c);
	c.k = k;
	c.d = d;
	c.rows = rows;
	float cos[2];
	const float e[2] = {0, 5};
	CHECK(classes_cosines(&c, e, cos) == 0);
	CHECK(near(cos[0], 0.9486833, 1e-6) && cos[1] == 0);
	const float zero[2] = {0, 0};
	CHECK(classes_cosines(&c, zero, cos) == -1);
	classes_free(&c);
	/* [D,K] transposed: columns are classes */
	const float dk[6] = {1, 0, 0, 0, 1, 0}; /* D=2, K=3: class 2 is all zeros */
	const int64_t s2[2] = {2, 3};
	CHECK(classes_build_rows(DTYPE_FLOAT32, dk, 2, s2, 1, &rows, &k, &d, NULL, err, sizeof err) == -1);
	CHECK(strstr(err, "class 2: the embedding is all zeros") != NULL);
}

static void test_files(void)
{
	FILE *f = fopen("names.txt", "w");
	fputs("tench\r\ngoldfish\ngreat white shark", f); /* CRLF, no final newline */
	fclose(f);
	char **names;
	int64_t n;
	char err[256];
	CHECK(names_load("names.txt", &names, &n, err, sizeof err) == 0);
	CHECK(n == 3 && strcmp(names[0], "tench") == 0 && strcmp(names[2], "great white shark") == 0);
	names_free(names, n);
	f = fopen("idx.txt", "w");
	fputs("# ImageNet-R style subset\n 3\n\n1  # comment\n7\n", f);
	fclose(f);
	int64_t *idx;
	CHECK(index_list_load("idx.txt", 10, &idx, &n, err, sizeof err) == 0);
	CHECK(n == 3 && idx[0] == 3 && idx[1] == 1 && idx[2] == 7);
	free(idx);
	CHECK(index_list_load("idx.txt", 5, &idx, &n, err, sizeof err) == -1);
	CHECK(strstr(err, "line 5: class 7 is out of range (5 classes)") != NULL);
	f = fopen("dup.txt", "w");
	fputs("2\n4\n2\n", f);
	fclose(f);
	CHECK(index_list_load("dup.txt", 10, &idx, &n, err, sizeof err) == -1);
	CHECK(strstr(err, "class 2 is listed twice") != NULL);
}

int main(int argc, char **argv)
{
	(void)argc;
	diag_init(argv[0]);
	test_topk();
	test_softmax();
	test_rows();
	test_files();
	if (failures)
		fprintf(stderr, "%d checks failed\n", failures);
	else
		printf("all checks passed\n");
	return failures ? 1 : 0;
}
