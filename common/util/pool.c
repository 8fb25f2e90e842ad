/* pool.c - an ordered parallel map over a sequential source (see util.h). */
#define _POSIX_C_SOURCE 200809L
#include "util/util.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum { SLOT_FREE, SLOT_BUSY, SLOT_DONE };

typedef struct {
	const pool_spec_t *s;
	pthread_mutex_t mu;
	pthread_cond_t done, space;
	unsigned char *items; /* nslots items of s->item_size bytes */
	int *state;           /* SLOT_* */
	uint64_t *seq;        /* the position in next()'s order of the item in each slot */
	size_t nslots;
	uint64_t next_seq; /* next item to take */
	uint64_t written;  /* next item to hand to done() */
	int eof, stop;
} pool_t;

static void *slot_item(const pool_t *p, size_t k)
{
	return p->items + k * p->s->item_size;
}

static void *worker(void *arg)
{
	pool_t *p = arg;
	const pool_spec_t *s = p->s;
	void *local = s->thread_init ? s->thread_init(s->ctx) : NULL;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->stop && !p->eof && p->next_seq - p->written >= p->nslots)
			pthread_cond_wait(&p->space, &p->mu);
		if (p->stop || p->eof)
			break;
		/* the slot of next_seq is free: the one before it was written */
		size_t k = p->next_seq % p->nslots;
		if (!s->next(s->ctx, slot_item(p, k))) {
			p->eof = 1;
			pthread_cond_broadcast(&p->done);
			break;
		}
		p->seq[k] = p->next_seq++;
		p->state[k] = SLOT_BUSY;
		pthread_mutex_unlock(&p->mu);
		s->work(s->ctx, local, slot_item(p, k));
		pthread_mutex_lock(&p->mu);
		p->state[k] = SLOT_DONE;
		pthread_cond_broadcast(&p->done);
	}
	pthread_mutex_unlock(&p->mu);
	if (s->thread_done)
		s->thread_done(s->ctx, local);
	return NULL;
}

static void run_serial(const pool_spec_t *s)
{
	void *item = xcalloc(1, s->item_size);
	void *local = s->thread_init ? s->thread_init(s->ctx) : NULL;
	while (s->next(s->ctx, item)) {
		s->work(s->ctx, local, item);
		if (s->done(s->ctx, item))
			break;
	}
	if (s->thread_done)
		s->thread_done(s->ctx, local);
	if (s->release)
		s->release(s->ctx, item);
	free(item);
}

void pool_run(const pool_spec_t *s)
{
	if (s->threads <= 1) {
		run_serial(s);
		return;
	}
	pool_t p = {.s = s};
	p.nslots = (size_t)s->threads * (s->per_thread > 0 ? (size_t)s->per_thread : 1);
	p.items = xcalloc(p.nslots, s->item_size);
	p.state = xcalloc(p.nslots, sizeof *p.state);
	p.seq = xcalloc(p.nslots, sizeof *p.seq);
	pthread_t *tid = xcalloc((size_t)s->threads, sizeof *tid);
	pthread_mutex_init(&p.mu, NULL);
	pthread_cond_init(&p.done, NULL);
	pthread_cond_init(&p.space, NULL);
	for (int i = 0; i < s->threads; i++)
		if (pthread_create(&tid[i], NULL, worker, &p) != 0)
			diag_fatal("cannot start thread: %s", strerror(errno));
	pthread_mutex_lock(&p.mu);
	for (;;) {
		size_t k = p.written % p.nslots;
		while (!(p.state[k] == SLOT_DONE && p.seq[k] == p.written) && !(p.eof && p.written == p.next_seq))
			pthread_cond_wait(&p.done, &p.mu);
		if (p.state[k] != SLOT_DONE || p.seq[k] != p.written)
			break; /* all handed back */
		pthread_mutex_unlock(&p.mu);
		int stop = s->done(s->ctx, slot_item(&p, k));
		pthread_mutex_lock(&p.mu);
		p.state[k] = SLOT_FREE;
		p.written++;
		pthread_cond_broadcast(&p.space);
		if (stop) {
			p.stop = 1;
			break;
		}
	}
	pthread_mutex_unlock(&p.mu);
	for (int i = 0; i < s->threads; i++)
		pthread_join(tid[i], NULL);
	for (size_t k = 0; s->release && k < p.nslots; k++)
		s->release(s->ctx, slot_item(&p, k));
	free(p.items);
	free(p.state);
	free(p.seq);
	free(tid);
	pthread_mutex_destroy(&p.mu);
	pthread_cond_destroy(&p.done);
	pthread_cond_destroy(&p.space);
}
