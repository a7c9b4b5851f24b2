/* stacktab.c: the in-process source's stack table: an open-addressing hash table in shared
 * memory, written by the command's threads (and its children's), read by the daemon */
#include <sched.h>
#include <string.h>
#include <x86intrin.h>
#include "stacktab.h"

/* How long a writer waits for another that holds a slot or one of max, about 0.1 s at 2-3
 * GHz: a preempted writer on a busy machine may not run for several time slices. One that
 * never settles (it died, or is stopped) makes its process wait no more (stalled). */
#define WAIT_TSC (1ULL << 28)

/* A writer held a slot or one of max and did not settle it within WAIT_TSC: this process
 * waits for none any more */
static bool stalled;

static bool waited_too_long(uint64_t since)
{
	if (__atomic_load_n(&stalled, __ATOMIC_RELAXED))
		return true;
	if (__rdtsc() - since <= WAIT_TSC)
		return false;
	__atomic_store_n(&stalled, true, __ATOMIC_RELAXED);
	return true;
}

size_t ms_stacktab_bytes(uint32_t slots, uint32_t depth)
{
	return (size_t)slots * MS_SHM_STACK_BYTES(depth);
}

static struct ms_shm_stack *slot_at(void *table, uint32_t depth, uint32_t i)
{
	return (struct ms_shm_stack *)((char *)table + (size_t)i * MS_SHM_STACK_BYTES(depth));
}

/* Never 0 (a free slot's) */
static uint64_t hash_of(const uint64_t *ip, unsigned n)
{
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ n;
	unsigned i;

	for (i = 0; i < n; i++) {
		h = (h ^ ip[i]) * 0xff51afd7ed558ccdULL;
		h ^= h >> 32;
	}
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 29;
	return h ? h : 1;
}

/* Slot s's frame count once its writer has published them, or 0 when it does not within
 * WAIT_TSC */
static uint32_t published(const struct ms_shm_stack *s)
{
	uint32_t nr = __atomic_load_n(&s->nr, __ATOMIC_ACQUIRE);
	uint64_t since;

	if (nr) /* nearly always: a stack found was published long ago (no TSC read) */
		return nr;
	since = __rdtsc();
	while (!(nr = __atomic_load_n(&s->nr, __ATOMIC_ACQUIRE))) {
		if (waited_too_long(since))
			return 0;
		sched_yield();
	}
	return nr;
}

/* One of st->max for this writer (true), or none left */
static bool reserve(struct ms_shm_stacks *st)
{
	if (__atomic_fetch_add(&st->used, 1, __ATOMIC_RELAXED) < st->max)
		return true;
	__atomic_fetch_sub(&st->used, 1, __ATOMIC_RELAXED);
	return false;
}

/* The writer's reservation spent (a slot published) or given back (the stack found) */
static void settle(struct ms_shm_stacks *st, bool spent)
{
	if (spent)
		__atomic_fetch_add(&st->published, 1, __ATOMIC_RELEASE);
	else
		__atomic_fetch_sub(&st->used, 1, __ATOMIC_RELAXED);
}

/*
 * At a free slot s with none of st->max left for this writer: one of them (*placed, and the
 * slot's hash now, 0 if still free), or the hash another writer put there (the stack that
 * writer places may be this one), or 0 and not placed: the table is full (max stacks
 * published) or a writer holding one did not settle it within WAIT_TSC. Other writers' holds
 * are given back when their stack was there already: then one is free again.
 */
static uint64_t reserve_at(struct ms_shm_stacks *st, const struct ms_shm_stack *s, bool *placed)
{
	uint64_t since = __rdtsc(), h;

	for (;;) {
		if (reserve(st)) {
			*placed = true;
			return __atomic_load_n(&s->hash, __ATOMIC_ACQUIRE);
		}
		if ((h = __atomic_load_n(&s->hash, __ATOMIC_ACQUIRE)))
			return h;
		if (__atomic_load_n(&st->published, __ATOMIC_ACQUIRE) >= st->max ||
		    waited_too_long(since))
			return 0;
		sched_yield();
	}
}

int32_t ms_stacktab_insert(struct ms_shm_stacks *st, void *table, const uint64_t *ip, unsigned n,
			   uint32_t tid)
{
	uint32_t slots = st->slots, depth = st->depth, i, k;
	bool placed = false; /* one of st->max is this writer's */
	uint64_t h;

	if (!slots || !n || n > depth)
		goto lost;
	h = hash_of(ip, n);
	i = (uint32_t)(((h >> 32) * slots) >> 32);
	for (k = 0; k < slots; k++, i = i + 1 == slots ? 0 : i + 1) {
		struct ms_shm_stack *s = slot_at(table, depth, i);
		uint64_t cur = __atomic_load_n(&s->hash, __ATOMIC_ACQUIRE);

		/* not in the table before this slot (slots are never freed): a new stack */
		if (!cur && !placed && !(cur = reserve_at(st, s, &placed)) && !placed)
			goto lost;
		if (!cur) {
			if (__atomic_compare_exchange_n(&s->hash, &cur, h, false, __ATOMIC_ACQ_REL,
							__ATOMIC_ACQUIRE)) {
				s->tid = tid;
				memcpy(s->ip, ip, n * sizeof(*ip));
				__atomic_store_n(&s->nr, n, __ATOMIC_RELEASE);
				settle(st, true);
				return (int32_t)(MS_STACK_INPROC | i);
			}
			/* another writer took it first: cur is its hash */
		}
		if (cur != h)
			continue;
		if (published(s) == n && !memcmp(s->ip, ip, n * sizeof(*ip))) {
			if (placed)
				settle(st, false);
			return (int32_t)(MS_STACK_INPROC | i);
		}
	}
	if (placed)
		settle(st, false);
lost:
	__atomic_fetch_add(&st->lost, 1, __ATOMIC_RELAXED);
	return -1;
}

const uint64_t *ms_stacktab_get(const struct ms_shm_stacks *st, const void *table, int32_t id,
				unsigned *n)
{
	const struct ms_shm_stack *s;
	uint32_t i, nr;

	if (!ms_stacktab_is_id(id))
		return NULL;
	i = (uint32_t)id & ~(uint32_t)MS_STACK_INPROC;
	if (i >= st->slots)
		return NULL;
	s = slot_at((void *)table, st->depth, i);
	nr = __atomic_load_n(&s->nr, __ATOMIC_ACQUIRE);
	if (!nr || nr > st->depth)
		return NULL;
	*n = nr;
	return s->ip;
}
