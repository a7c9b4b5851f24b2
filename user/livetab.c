/* livetab.c: open addressing with linear probing and backward-shift deletion, sharded when big */
#include <stdlib.h>
#include <string.h>
#include "livetab.h"

#define MIN_CAP 64
#define DEAD_SLACK 65536

static inline uint64_t hash_of(uint64_t addr)
{
	/* Fibonacci hashing: the product's high bits spread neighbouring addresses */
	return addr * 0x9E3779B97F4A7C15ULL;
}

/* The shard of hash h: the one array, or the shard the hash's top bits name */
static inline struct ms_shard *shard_of(struct ms_livetab *t, uint64_t h)
{
	return t->nshards == MS_SHARDS ? &t->shards[h >> (64 - MS_SHARD_BITS)] : &t->one;
}

/* Shard k of the table's nshards */
static inline const struct ms_shard *shard_at(const struct ms_livetab *t, unsigned k)
{
	return t->nshards == MS_SHARDS ? &t->shards[k] : &t->one;
}

static inline size_t slot_of(const struct ms_livetab *t, const struct ms_shard *sh, uint64_t h)
{
	/* below the bits that chose the shard */
	if (t->nshards > 1)
		h <<= MS_SHARD_BITS;
	return h >> (64 - __builtin_ctzll(sh->cap));
}

/* The shard that holds entry b: the one its address' hash names (no scan of the shards) */
static inline struct ms_shard *shard_holding(struct ms_livetab *t, const struct ms_block *b)
{
	return shard_of(t, hash_of(b->addr));
}

struct ms_block *ms_livetab_find(struct ms_livetab *t, uint64_t addr)
{
	uint64_t h = hash_of(addr);
	struct ms_shard *sh;
	size_t i;

	/* an empty table has nothing to probe (the pending reallocs' tables, mostly: every
	 * allocation asks them); 0 marks an empty slot: never a block */
	if (!t->used || !addr)
		return NULL;
	/* a table with entries has room in every shard (split sizes them all) */
	sh = shard_of(t, h);
	for (i = slot_of(t, sh, h);; i = (i + 1) & (sh->cap - 1)) {
		if (sh->slots[i].addr == addr)
			return &sh->slots[i];
		if (sh->slots[i].addr == 0)
			return NULL;
	}
}

/* Places b (not present) into sh, which has room */
static void place(const struct ms_livetab *t, struct ms_shard *sh, const struct ms_block *b)
{
	size_t j;

	for (j = slot_of(t, sh, hash_of(b->addr)); sh->slots[j].addr; j = (j + 1) & (sh->cap - 1))
		;
	sh->slots[j] = *b;
	sh->used++;
	sh->dead += ms_block_dead(b);
}

/* Rebuilds shard sh with capacity cap, dropping dead entries when drop_dead */
static int rehash(struct ms_livetab *t, struct ms_shard *sh, size_t cap, bool drop_dead)
{
	struct ms_shard old = *sh;
	size_t i;

	sh->slots = calloc(cap, sizeof(*sh->slots));
	if (!sh->slots) {
		*sh = old;
		return -1;
	}
	sh->cap = cap;
	sh->used = sh->dead = 0;
	for (i = 0; i < old.cap; i++)
		if (old.slots[i].addr && !(drop_dead && ms_block_dead(&old.slots[i])))
			place(t, sh, &old.slots[i]);
	t->used += sh->used - old.used;
	t->dead += sh->dead - old.dead;
	free(old.slots);
	return 0;
}

/* From one array to MS_SHARDS: each entry to the shard its hash names */
static int split(struct ms_livetab *t)
{
	struct ms_shard *shards = calloc(MS_SHARDS, sizeof(*shards)), one = t->one;
	size_t i, per = one.used / MS_SHARDS + 1, cap = MIN_CAP;
	unsigned k;

	if (!shards)
		return -1;
	/* each shard half full, as a table is after doubling */
	while (cap < per * 2)
		cap *= 2;
	for (k = 0; k < MS_SHARDS; k++) {
		shards[k].slots = calloc(cap, sizeof(*shards[k].slots));
		shards[k].cap = cap;
		if (!shards[k].slots) {
			while (k-- > 0)
				free(shards[k].slots);
			free(shards);
			return -1;
		}
	}
	t->shards = shards;
	t->nshards = MS_SHARDS;
	memset(&t->one, 0, sizeof(t->one));
	for (i = 0; i < one.cap; i++) {
		const struct ms_block *b = &one.slots[i];

		if (b->addr)
			place(t, shard_of(t, hash_of(b->addr)), b);
	}
	free(one.slots);
	return 0;
}

/* Grows sh so that one more entry keeps its load at or under 3/4 (dropping dead entries
 * when they outnumber live ones), or splits the table past MS_SHARD_SWITCH slots: 0, 1
 * when the table split (every shard changed), -1 when memory runs out */
static int make_room(struct ms_livetab *t, struct ms_shard *sh)
{
	size_t live = sh->used - sh->dead, cap = sh->cap ? sh->cap : MIN_CAP;
	bool drop = sh->dead > DEAD_SLACK / t->nshards && sh->dead > live;

	while ((((drop ? live : sh->used) + 1) * 4 > cap * 3))
		cap *= 2;
	if (t->nshards == 1 && cap > MS_SHARD_SWITCH)
		return split(t) ? -1 : 1;
	return rehash(t, sh, cap, drop);
}

/* A new entry for addr in the empty slot i of sh */
static inline struct ms_block *fill(struct ms_livetab *t, struct ms_shard *sh, size_t i,
				    uint64_t addr)
{
	sh->slots[i].addr = addr;
	sh->slots[i].meta = 0;
	sh->slots[i].ts_ns = 0;
	sh->used++;
	t->used++;
	return &sh->slots[i];
}

/*
 * A new entry for addr (not in t) that has no room yet: the table's first array made,
 * its shard grown past 3/4 full, or the table split. Out of line, so that ms_livetab_insert, which
 * every allocation calls, saves no register on its own path.
 */
static __attribute__((noinline)) struct ms_block *insert_grown(struct ms_livetab *t, uint64_t addr)
{
	uint64_t h = hash_of(addr);
	struct ms_shard *sh;
	size_t i;
	int grown;

	if (!t->nshards)
		t->nshards = 1;
	sh = shard_of(t, h);
	grown = make_room(t, sh);
	if (grown < 0)
		return NULL;
	if (grown > 0)
		return ms_livetab_insert(t, addr);
	for (i = slot_of(t, sh, h); sh->slots[i].addr; i = (i + 1) & (sh->cap - 1))
		;
	return fill(t, sh, i, addr);
}

struct ms_block *ms_livetab_insert(struct ms_livetab *t, uint64_t addr)
{
	uint64_t h = hash_of(addr);
	struct ms_shard *sh;
	size_t i;

	if (!addr) /* 0 marks an empty slot: never a block */
		return NULL;
	sh = shard_of(t, h);
	if (!sh->cap) /* the first insert, or a growth that failed */
		return insert_grown(t, addr);
	/* one probe: addr's entry, or the empty slot where it goes */
	for (i = slot_of(t, sh, h); sh->slots[i].addr; i = (i + 1) & (sh->cap - 1))
		if (sh->slots[i].addr == addr)
			return &sh->slots[i];
	/* a new entry past 3/4 full: the shard grows first */
	if ((sh->used + 1) * 4 > sh->cap * 3)
		return insert_grown(t, addr);
	return fill(t, sh, i, addr);
}

void ms_livetab_remove(struct ms_livetab *t, struct ms_block *b)
{
	struct ms_shard *sh = shard_holding(t, b);
	size_t mask = sh->cap - 1, i, j, home;

	i = j = b - sh->slots;
	if (ms_block_dead(b)) {
		sh->dead--;
		t->dead--;
	}
	sh->used--;
	t->used--;
	for (;;) {
		j = (j + 1) & mask;
		if (!sh->slots[j].addr)
			break;
		home = slot_of(t, sh, hash_of(sh->slots[j].addr));
		/* move j back to i unless its home lies cyclically in (i, j] */
		if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
			sh->slots[i] = sh->slots[j];
			i = j;
		}
	}
	sh->slots[i].addr = 0;
	sh->slots[i].meta = 0;
}

void ms_livetab_store(struct ms_livetab *t, struct ms_block *b, uint64_t meta, uint64_t ts_ns)
{
	if (ms_block_dead(b)) {
		shard_holding(t, b)->dead--;
		t->dead--;
	}
	b->meta = meta;
	b->ts_ns = ts_ns;
	b->site = 0;
}

void ms_livetab_kill(struct ms_livetab *t, struct ms_block *b)
{
	if (ms_block_dead(b))
		return;
	b->meta |= MS_BLOCK_DEAD;
	shard_holding(t, b)->dead++;
	t->dead++;
}

struct ms_block *ms_livetab_iter(const struct ms_livetab *t, uint64_t *pos)
{
	uint64_t k = *pos >> 40, i = *pos & ((1ULL << 40) - 1);

	for (; k < t->nshards; k++, i = 0) {
		const struct ms_shard *sh = shard_at(t, k);

		for (; i < sh->cap; i++) {
			if (sh->slots[i].addr) {
				*pos = k << 40 | (i + 1);
				return &sh->slots[i];
			}
		}
	}
	*pos = 0;
	return NULL;
}

size_t ms_livetab_bytes(const struct ms_livetab *t)
{
	size_t n = 0;
	unsigned k;

	for (k = 0; k < t->nshards; k++)
		n += shard_at(t, k)->cap * sizeof(struct ms_block);
	return n;
}

void ms_livetab_free(struct ms_livetab *t)
{
	unsigned k;

	for (k = 0; k < t->nshards; k++)
		free(shard_at(t, k)->slots);
	free(t->shards);
	memset(t, 0, sizeof(*t));
}
