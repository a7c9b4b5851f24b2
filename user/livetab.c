/* livetab.c: open addressing with linear probing and backward-shift deletion */
#include <stdlib.h>
#include <string.h>
#include "livetab.h"

#define MIN_CAP 64
#define DEAD_SLACK 65536

static inline size_t slot_of(const struct ms_livetab *t, uint64_t addr)
{
	/* Fibonacci hashing of the address without its alignment bits */
	return ((addr >> 4) * 0x9E3779B97F4A7C15ULL) & (t->cap - 1);
}

struct ms_block *ms_livetab_find(struct ms_livetab *t, uint64_t addr)
{
	size_t i;

	if (!t->cap)
		return NULL;
	for (i = slot_of(t, addr);; i = (i + 1) & (t->cap - 1)) {
		if (t->slots[i].addr == addr)
			return &t->slots[i];
		if (t->slots[i].addr == 0)
			return NULL;
	}
}

/* Rebuilds the table with capacity cap, dropping dead entries when drop_dead */
static int rehash(struct ms_livetab *t, size_t cap, bool drop_dead)
{
	struct ms_block *old = t->slots, *slots;
	size_t i, j, old_cap = t->cap;

	slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return -1;
	t->slots = slots;
	t->cap = cap;
	t->used = 0;
	t->dead = 0;
	for (i = 0; i < old_cap; i++) {
		if (!old[i].addr || (drop_dead && ms_block_dead(&old[i])))
			continue;
		for (j = slot_of(t, old[i].addr); slots[j].addr; j = (j + 1) & (cap - 1))
			;
		slots[j] = old[i];
		t->used++;
		t->dead += ms_block_dead(&old[i]);
	}
	free(old);
	return 0;
}

struct ms_block *ms_livetab_insert(struct ms_livetab *t, uint64_t addr)
{
	struct ms_block *b = ms_livetab_find(t, addr);
	size_t i;

	if (b)
		return b;
	/* keep the load at or under 3/4 */
	if ((t->used + 1) * 4 > t->cap * 3) {
		size_t live = t->used - t->dead, cap = t->cap ? t->cap : MIN_CAP;
		bool drop = t->dead > DEAD_SLACK && t->dead > live;

		while ((((drop ? live : t->used) + 1) * 4 > cap * 3))
			cap *= 2;
		if (rehash(t, cap, drop))
			return NULL;
	}
	for (i = slot_of(t, addr); t->slots[i].addr; i = (i + 1) & (t->cap - 1))
		;
	t->slots[i].addr = addr;
	t->slots[i].meta = 0;
	t->slots[i].ts_ns = 0;
	t->used++;
	return &t->slots[i];
}

void ms_livetab_remove(struct ms_livetab *t, struct ms_block *b)
{
	size_t mask = t->cap - 1, i = b - t->slots, j = i, home;

	if (ms_block_dead(b))
		t->dead--;
	t->used--;
	for (;;) {
		j = (j + 1) & mask;
		if (!t->slots[j].addr)
			break;
		home = slot_of(t, t->slots[j].addr);
		/* move j back to i unless its home lies cyclically in (i, j] */
		if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
			t->slots[i] = t->slots[j];
			i = j;
		}
	}
	t->slots[i].addr = 0;
	t->slots[i].meta = 0;
}

void ms_livetab_kill(struct ms_livetab *t, struct ms_block *b)
{
	if (ms_block_dead(b))
		return;
	b->meta |= MS_BLOCK_DEAD;
	t->dead++;
}

size_t ms_livetab_bytes(const struct ms_livetab *t)
{
	return t->cap * sizeof(struct ms_block);
}

void ms_livetab_free(struct ms_livetab *t)
{
	free(t->slots);
	memset(t, 0, sizeof(*t));
}
