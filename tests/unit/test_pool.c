/* test_pool.c - common/util/pool.c, the ordered parallel map imgdecode -j
 * runs on: items come back in next()'s order whatever order the workers
 * finish them in, next() is never run by two threads at once, a stop from
 * done() ends the run with nothing handed back after it, each slot is
 * released once, and one thread runs it all on the caller. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "util/util.h"

typedef struct {
	int n, stop_at;          /* items to give; done() stops at this one (-1: never) */
	int given, handed, next_in, max_next_in, out_of_order, released, inits, finis;
	pthread_mutex_t mu;      /* for the counters the workers touch */
} ctx_t;

typedef struct {
	int value, squared;
	int *buf; /* a buffer the slot keeps for its next item */
} item_t;

static void *init(void *c)
{
	ctx_t *x = c;
	pthread_mutex_lock(&x->mu);
	x->inits++;
	pthread_mutex_unlock(&x->mu);
	return x;
}

static void fini(void *c, void *local)
{
	ctx_t *x = c;
	pthread_mutex_lock(&x->mu);
	x->finis += local == c;
	pthread_mutex_unlock(&x->mu);
}

static int next(void *c, void *it)
{
	ctx_t *x = c;
	item_t *i = it;
	/* the pool's lock is held: no other next() runs now */
	int in = __atomic_add_fetch(&x->next_in, 1, __ATOMIC_SEQ_CST);
	if (in > x->max_next_in)
		x->max_next_in = in;
	struct timespec ts = {0, 20000};
	nanosleep(&ts, NULL);
	int more = x->given < x->n;
	if (more) {
		i->value = x->given++;
		if (!i->buf)
			i->buf = xmalloc(sizeof *i->buf);
	}
	__atomic_sub_fetch(&x->next_in, 1, __ATOMIC_SEQ_CST);
	return more;
}

static void work(void *c, void *local, void *it)
{
	item_t *i = it;
	/* uneven work: later items often finish first */
	struct timespec ts = {0, (long)((i->value * 7919) % 13) * 30000};
	nanosleep(&ts, NULL);
	i->squared = i->value * i->value;
	*i->buf = i->value;
}

static int done(void *c, void *it)
{
	ctx_t *x = c;
	item_t *i = it;
	if (i->value != x->handed || i->squared != i->value * i->value || *i->buf != i->value)
		x->out_of_order++;
	x->handed++;
	return i->value == x->stop_at;
}

static void release(void *c, void *it)
{
	ctx_t *x = c;
	item_t *i = it;
	free(i->buf);
	i->buf = NULL;
	x->released++;
}

static void run(int threads, int n, int stop_at)
{
	ctx_t x = {.n = n, .stop_at = stop_at};
	pthread_mutex_init(&x.mu, NULL);
	pool_spec_t s = {.ctx = &x, .item_size = sizeof(item_t), .threads = threads, .per_thread = 3,
			 .thread_init = init, .thread_done = fini, .next = next, .work = work, .done = done,
			 .release = release};
	pool_run(&s);
	int want = stop_at >= 0 ? stop_at + 1 : n;
	CHECK(x.handed == want, "threads %d: %d items handed back, want %d", threads, x.handed, want);
	CHECK(x.out_of_order == 0, "threads %d: %d items out of order", threads, x.out_of_order);
	CHECK(x.max_next_in == 1, "threads %d: next() ran %d at once", threads, x.max_next_in);
	int slots = threads <= 1 ? 1 : threads * 3;
	CHECK(x.released == slots, "threads %d: %d slots released, want %d", threads, x.released, slots);
	int workers = threads <= 1 ? 1 : threads;
	CHECK(x.inits == workers && x.finis == workers, "threads %d: %d inits, %d finis", threads, x.inits,
	      x.finis);
	pthread_mutex_destroy(&x.mu);
}

int main(void)
{
	run(1, 200, -1);
	run(4, 500, -1);
	run(8, 3, -1); /* fewer items than slots */
	run(4, 0, -1);
	run(4, 500, 100);
	run(1, 50, 10);
	return check_report();
}
