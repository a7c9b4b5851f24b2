/* keyidx.c: numbers records by a two-word key */
#include <stdlib.h>
#include "keyidx.h"

struct ms_keyslot {
	uint64_t a, b;
	uint32_t num; /* the record's number + 1; 0: a free slot */
};

static inline uint32_t slot_of(uint64_t a, uint64_t b, uint32_t cap)
{
	return ((a ^ (b * 0x9E3779B97F4A7C15ULL)) * 0xff51afd7ed558ccdULL >> 32) & (cap - 1);
}

/* The slot of (a, b), or the free slot where it goes */
static struct ms_keyslot *probe(const struct ms_keyidx *x, uint64_t a, uint64_t b)
{
	uint32_t i;

	for (i = slot_of(a, b, x->cap); x->slot[i].num; i = (i + 1) & (x->cap - 1))
		if (x->slot[i].a == a && x->slot[i].b == b)
			break;
	return &x->slot[i];
}

/* Rebuilds the index with cap slots (a power of two); 0 or -1 */
static int rehash(struct ms_keyidx *x, uint32_t cap)
{
	struct ms_keyidx y = { calloc(cap, sizeof(*y.slot)), cap, x->n };
	uint32_t i;

	if (!y.slot)
		return -1;
	for (i = 0; i < x->cap; i++)
		if (x->slot[i].num)
			*probe(&y, x->slot[i].a, x->slot[i].b) = x->slot[i];
	free(x->slot);
	*x = y;
	return 0;
}

long ms_keyidx_get(struct ms_keyidx *x, uint64_t a, uint64_t b, bool add)
{
	struct ms_keyslot *s;

	/* room for one more first: the slot found is where it goes */
	if (add && (uint64_t)(x->n + 1) * 2 > x->cap && x->n < UINT32_MAX / 4)
		rehash(x, x->cap ? x->cap * 2 : 16);
	if (!x->cap)
		return -1;
	s = probe(x, a, b);
	if (s->num)
		return s->num - 1;
	/* a full index (its growth failed) takes no more */
	if (!add || (uint64_t)(x->n + 1) * 2 > x->cap)
		return -1;
	*s = (struct ms_keyslot){ a, b, ++x->n };
	return s->num - 1;
}

void ms_keyidx_free(struct ms_keyidx *x)
{
	free(x->slot);
	x->slot = NULL;
	x->cap = x->n = 0;
}
