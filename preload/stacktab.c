/* stacktab.c: the in-process source's stack table: an open-addressing hash table in shared
 * memory, written by the command's threads (and its children's), read by the daemon */
#include <sched.h>
#include <string.h>
#include <x86intrin.h>
#include "stacktab.h"

/* A writer that claimed a slot of the same hash is given about a millisecond (at 2-4 GHz)
 * to publish its frames */
#define WAIT_TSC (1ULL << 22)

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
	uint64_t since = __rdtsc();
	uint32_t nr;

	while (!(nr = __atomic_load_n(&s->nr, __ATOMIC_ACQUIRE))) {
		if (__rdtsc() - since > WAIT_TSC)
			return 0;
		sched_yield();
	}
	return nr;
}

int32_t ms_stacktab_insert(struct ms_shm_stacks *st, void *table, const uint64_t *ip, unsigned n,
			   uint32_t tid)
{
	uint32_t slots = st->slots, depth = st->depth, i, k;
	uint64_t h = hash_of(ip, n);
	bool placed = false; /* one of st->max is this writer's */

	if (!slots || !n || n > depth)
		goto lost;
	i = (uint32_t)(((h >> 32) * slots) >> 32);
	for (k = 0; k < slots; k++, i = i + 1 == slots ? 0 : i + 1) {
		struct ms_shm_stack *s = slot_at(table, depth, i);
		uint64_t cur = __atomic_load_n(&s->hash, __ATOMIC_ACQUIRE);

		if (!cur) {
			/* not in the table (slots are never freed: it would be before this one) */
			if (!placed &&
			    __atomic_fetch_add(&st->used, 1, __ATOMIC_RELAXED) >= st->max) {
				__atomic_fetch_sub(&st->used, 1, __ATOMIC_RELAXED);
				goto lost;
			}
			placed = true;
			if (__atomic_compare_exchange_n(&s->hash, &cur, h, false, __ATOMIC_ACQ_REL,
							__ATOMIC_ACQUIRE)) {
				s->tid = tid;
				memcpy(s->ip, ip, n * sizeof(*ip));
				__atomic_store_n(&s->nr, n, __ATOMIC_RELEASE);
				return (int32_t)(MS_STACK_INPROC | i);
			}
			/* another writer took it first: cur is its hash */
		}
		if (cur != h)
			continue;
		if (published(s) == n && !memcmp(s->ip, ip, n * sizeof(*ip))) {
			if (placed)
				__atomic_fetch_sub(&st->used, 1, __ATOMIC_RELAXED);
			return (int32_t)(MS_STACK_INPROC | i);
		}
	}
	if (placed)
		__atomic_fetch_sub(&st->used, 1, __ATOMIC_RELAXED);
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
