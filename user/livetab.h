/* livetab.h: the live blocks of one process, an open-addressing table keyed by address */
#ifndef MS_LIVETAB_H
#define MS_LIVETAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * One block, 32 bytes. A freed block stays as a dead entry until its address is
 * allocated again, so that a second free of it (glibc's tcache release at thread
 * exit, a double free) is told apart from a free of a block older than the trace.
 */
struct ms_block {
	uint64_t addr;	/* 0: empty slot */
	uint64_t meta;	/* size (bits 0-39), NUMA node (40-47), function id (48-62), dead (63) */
	uint64_t ts_ns; /* allocation time; once dead, its side's allocation count at the free */
	uint32_t site;	/* a live user block: its allocation site in its process' stack sites
			   (sites.h), index + 1; 0: none */
	uint32_t pad;
};

#define MS_BLOCK_SIZE_MASK ((1ULL << 40) - 1) /* 1 TiB: larger requests saturate */
#define MS_BLOCK_DEAD (1ULL << 63)

static inline uint64_t ms_block_size(const struct ms_block *b)
{
	return b->meta & MS_BLOCK_SIZE_MASK;
}
static inline unsigned ms_block_node(const struct ms_block *b)
{
	return (b->meta >> 40) & 0xff;
}
static inline unsigned ms_block_func(const struct ms_block *b)
{
	return (b->meta >> 48) & 0x7fff;
}
static inline bool ms_block_dead(const struct ms_block *b)
{
	return b->meta & MS_BLOCK_DEAD;
}
static inline uint64_t ms_block_meta(uint64_t size, unsigned func, unsigned node)
{
	return (size > MS_BLOCK_SIZE_MASK ? MS_BLOCK_SIZE_MASK : size) |
	       ((uint64_t)(node & 0xff) << 40) | ((uint64_t)(func & 0x7fff) << 48);
}

/* One open-addressing array */
struct ms_shard {
	struct ms_block *slots;
	size_t cap;  /* power of two, 0 before the first insert */
	size_t used; /* live + dead entries */
	size_t dead;
};

/*
 * A table is one array until it would pass MS_SHARD_SWITCH slots, then MS_SHARDS
 * arrays chosen by the hash's top bits, each growing on its own: growing copies one
 * shard at a time, so the memory held while a big table grows stays near its size
 * (32 bytes a slot, 3/8 to 3/4 full: 43 to 86 bytes per block). The one array is
 * described in the table itself: a look-up in it loads one pointer less.
 */
#define MS_SHARD_BITS 6
#define MS_SHARDS (1u << MS_SHARD_BITS)
#define MS_SHARD_SWITCH (1u << 20)

struct ms_livetab {
	struct ms_shard one;	 /* the one array, while nshards is 1 */
	struct ms_shard *shards; /* the MS_SHARDS arrays, once nshards is MS_SHARDS */
	unsigned nshards;	 /* 0 before the first insert */
	size_t used;		 /* live + dead entries, all shards */
	size_t dead;
};

/* The entry for addr, live or dead, or NULL. O(1) expected, no allocation. */
struct ms_block *ms_livetab_find(struct ms_livetab *t, uint64_t addr);

/*
 * The entry for addr, created empty (meta 0) if absent; NULL when memory runs out.
 * May grow the table (amortised O(1)), which moves entries: pointers from earlier
 * calls are invalid afterwards.
 */
struct ms_block *ms_livetab_insert(struct ms_livetab *t, uint64_t addr);

/* Removes the entry b points at (backward shift, no tombstones). */
void ms_livetab_remove(struct ms_livetab *t, struct ms_block *b);

/* Makes b a live block with meta and ts_ns and no site (b may have been dead) */
void ms_livetab_store(struct ms_livetab *t, struct ms_block *b, uint64_t meta, uint64_t ts_ns);

/*
 * The next entry (live or dead) after cursor *pos, which it advances; start from 0.
 * Returns NULL after the last one and sets *pos back to 0, so a cursor kept between
 * calls walks the table round and round.
 */
struct ms_block *ms_livetab_iter(const struct ms_livetab *t, uint64_t *pos);

/* Marks b dead; dead entries are dropped when they outnumber live ones (and 64 Ki). */
void ms_livetab_kill(struct ms_livetab *t, struct ms_block *b);

/* Bytes of memory the table holds */
size_t ms_livetab_bytes(const struct ms_livetab *t);

void ms_livetab_free(struct ms_livetab *t);

#endif
