/* test_run - common/eval/run.c on the runs of testdata/run/ (make.py there
 * spells out every record): reading with provenance and names, the records
 * left out and why, filtering, repeated ids, pairing two runs, confusions and
 * per-class counts; and the JSON writer of common/stream/json.c. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "eval/eval.h"
#include "stream/stream.h"
#include "util/util.h"

static char a_path[4096], b_path[4096];

static int near(double x, double y)
{
	return fabs(x - y) < 1e-6;
}

/* a.mp: 9 prediction records; a4 (label "dog") is left out as bad, a5 (an
 * int32 tensor) as malformed; a0 comes twice; a6 is another model's logits;
 * a7 a --subset record of 2 scores. */
static void test_read(run_t *a)
{
	run_read(a, a_path, "A", "test_run", 0);
	CHECK(strcmp(a->name, "A") == 0, "the label names the run: %s", a->name);
	CHECK(a->nrecords == 9, "prediction records met: %lld", (long long)a->nrecords);
	CHECK(a->n == 7, "kept: %lld", (long long)a->n);
	CHECK(a->nmalformed == 1 && a->nbad == 1 && a->nunreadable == 0, "malformed %lld, bad %lld, unreadable %lld",
	      (long long)a->nmalformed, (long long)a->nbad, (long long)a->nunreadable);
	const char *ids[7] = {"a0", "a1", "a2", "a3", "a0", "a6", "a7"};
	for (int i = 0; i < 7 && i < a->n; i++)
		CHECK(strcmp(a->p[i].id, ids[i]) == 0, "prediction %d is %s, not %s", i, a->p[i].id, ids[i]);
	CHECK(a->p[3].status == PRED_ERROR && strcmp(a->p[3].error, "imgdecode: truncated") == 0, "the error record");
	CHECK(a->recno[1] == 3 && a->recno[6] == 10, "record numbers: %llu %llu", (unsigned long long)a->recno[1],
	      (unsigned long long)a->recno[6]);
	CHECK(!a->indexed[0] && a->indexed[6], "a7 has an index list");
	CHECK(a->kwidth == 4 && a->kmax == 4, "width %lld, longest %lld", (long long)a->kwidth, (long long)a->kmax);
	CHECK(a->p[6].ntop == 2 && a->p[6].top[0] == 2 && a->p[6].top[1] == 3, "a7 ranks classes 2, 3");
	CHECK(a->model && strcmp(a->model, "m") == 0 && a->mixed_models, "model m, mixed with a6's");
	CHECK(a->precision && strcmp(a->precision, "fp32") == 0, "precision");
	CHECK(a->nnames == 4 && strcmp(a->names[0], "apple") == 0, "the classes record's names, the latest");
	CHECK(a->prov.nheaders == 1 && a->prov.nstats == 1, "provenance: %d headers, %d stats", a->prov.nheaders,
	      a->prov.nstats);
}

/* Errors left out quietly, label 2 (a7) as a failure with a reason. */
static int keep_rule(const pred_t *p, int indexed, void *ctx, char *why, size_t cap)
{
	int *quiet = ctx;
	if (p->status == PRED_ERROR) {
		(*quiet)++;
		return 0;
	}
	if (p->label == 2) {
		snprintf(why, cap, "label 2 (indexed %d)", indexed);
		return 0;
	}
	return 1;
}

static void test_filter_index(run_t *a)
{
	int quiet = 0;
	run_filter(a, keep_rule, &quiet);
	CHECK(quiet == 1 && a->n == 5 && a->nbad == 2, "quiet %d, kept %lld, bad %lld", quiet, (long long)a->n,
	      (long long)a->nbad);
	CHECK(strcmp(a->p[4].id, "a6") == 0 && a->recno[4] == 9, "the positions close up: %s %llu", a->p[4].id,
	      (unsigned long long)a->recno[4]);
	run_index(a, "record");
	CHECK(a->ids.ndup == 1 && a->ids.first_dup == 3, "one repeat, at 3: %lld at %lld", (long long)a->ids.ndup,
	      (long long)a->ids.first_dup);
	CHECK(ids_is_first(&a->ids, 0) && !ids_is_first(&a->ids, 3), "the first a0 counts");
	CHECK(ids_find(&a->ids, "a0") == 0 && ids_find(&a->ids, "a7") == -1, "find");
}

/* b.mp: a1 a2 a1 a9. Pairs, in A's order: a1 (1, 0), a2 (2, 1); only in
 * A: a0 and a6; only in B: a9 (a1's repeat is no id of its own). */
static void test_pairing(const run_t *a)
{
	run_t b;
	run_read(&b, b_path, NULL, "test_run", 0);
	run_index(&b, "record");
	CHECK(b.ids.ndup == 1, "b repeats a1");
	pairing_t p;
	pairing_build(&p, &a->ids, &b.ids);
	CHECK(p.n == 2 && p.only_a == 2 && p.only_b == 1, "pairs %lld, only A %lld, only B %lld", (long long)p.n,
	      (long long)p.only_a, (long long)p.only_b);
	CHECK(p.n == 2 && p.pair[0].a == 1 && p.pair[0].b == 0 && p.pair[1].a == 2 && p.pair[1].b == 1, "the pairs");
	CHECK(pairing_none(&p, &a->ids, &b.ids, "A", "B", NULL) == 0, "ids in common: no failure");
	pairing_free(&p);
	id_index_t none;
	ids_init(&none);
	pairing_build(&p, &a->ids, &none);
	CHECK(pairing_none(&p, &a->ids, &none, "A", "empty", NULL) == 1, "nothing in common with an empty run fails");
	pairing_free(&p);
	pairing_build(&p, &none, &none);
	CHECK(pairing_none(&p, &none, &none, "empty", "empty", NULL) == 0, "two empty runs compare nothing, fail nothing");
	pairing_free(&p);
	ids_free(&none);
	run_free(&b);
}

/* After the filter, the first of each id: a0 right; a1 label 1 taken for 0
 * (0.6), class 1 second; a2 label 1 taken for 2 (0.8), class 1 third; a6
 * unlabelled. */
static void test_counts(const run_t *a)
{
	run_counts_t s;
	run_counts(a, NULL, 4, &s);
	CHECK(s.scored == 4 && s.labelled == 3 && s.unlabelled == 1 && s.failed == 0, "scored %lld labelled %lld",
	      (long long)s.scored, (long long)s.labelled);
	CHECK(s.top1 == 1 && s.top5 == 3 && s.top5_known, "top-1 %lld, top-5 %lld", (long long)s.top1, (long long)s.top5);
	CHECK(s.support[0] == 1 && s.support[1] == 2 && s.correct[0] == 1 && s.correct[1] == 0, "support, correct");
	CHECK(s.predicted[0] == 2 && s.predicted[2] == 1 && s.correct5[1] == 2, "predicted, top-5 correct");
	CHECK(near(s.wrong_prob[1], 0.6 + 0.8), "wrong predictions' probability: %g", s.wrong_prob[1]);
	CHECK(s.with_support == 2 && near(s.mean_recall, 0.5), "mean recall %g", s.mean_recall);
	CHECK(s.nconf == 2 && s.conf[0].t == 1 && s.conf[0].p == 0 && s.conf[1].p == 2, "confusions");
	run_counts_free(&s);
	unsigned char use[5] = {0, 1, 0, 0, 0}; /* a1 only */
	run_counts(a, use, 4, &s);
	CHECK(s.labelled == 1 && s.top1 == 0 && s.top5 == 1, "a use mask counts only its images");
	run_counts_free(&s);
}

static void test_confusions(void)
{
	confusion_t c[4] = {{2, 1, 1}, {0, 1, 1}, {2, 1, 1}, {0, 3, 2}};
	int64_t n = confusions_merge(c, 4);
	CHECK(n == 3, "merged: %lld", (long long)n);
	/* by count, then true class, then predicted */
	CHECK(c[0].t == 0 && c[0].p == 3 && c[0].n == 2 && c[1].t == 2 && c[1].n == 2 && c[2].t == 0 && c[2].p == 1,
	      "order");
}

static void test_json_writer(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	jw_t w;
	jw_init(&w, f);
	jw_obj(&w, NULL);
	jw_str(&w, "a", "x\"y");
	jw_arr(&w, "b");
	jw_int(&w, NULL, 1);
	jw_double(&w, NULL, NAN);
	jw_obj(&w, NULL);
	jw_end(&w);
	jw_end(&w);
	jw_break(&w, "\n");
	jw_ratio(&w, "r", 1, 0);
	jw_ratio(&w, "s", 1, 4);
	jw_bool(&w, "t", 1);
	jw_str(&w, "n", NULL);
	fputs("[]", jw_value(&w, "v"));
	jw_strn(&w, "z", "a\0b", 3);
	jw_end(&w);
	fclose(f);
	const char *want = "{\"a\":\"x\\\"y\",\"b\":[1,null,{}],\n\"r\":null,\"s\":0.25,\"t\":true,\"n\":null,\"v\":[],"
			   "\"z\":\"a\\u0000b\"}";
	CHECK(strcmp(buf, want) == 0, "got %s", buf);
	CHECK(w.depth == 0, "everything closed");
	free(buf);
	/* jw_close: whatever is open, then the newline that ends a document */
	f = open_memstream(&buf, &len);
	jw_init(&w, f);
	jw_obj(&w, NULL);
	jw_arr(&w, "a");
	jw_obj(&w, NULL);
	jw_close(&w);
	fclose(f);
	CHECK(strcmp(buf, "{\"a\":[{}]}\n") == 0 && w.depth == 0, "jw_close: %s", buf);
	free(buf);
}

int main(void)
{
	const char *td = getenv("TESTDATA");
	if (!td)
		diag_fatal("TESTDATA is not set (run through tests/run)");
	snprintf(a_path, sizeof a_path, "%s/run/a.mp", td);
	snprintf(b_path, sizeof b_path, "%s/run/b.mp", td);
	diag_init("test_run");
	run_t a;
	test_read(&a);
	test_filter_index(&a);
	test_pairing(&a);
	test_counts(&a);
	run_free(&a);
	test_confusions();
	test_json_writer();
	return check_report();
}
