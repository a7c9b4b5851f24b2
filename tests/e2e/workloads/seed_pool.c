/* seed_pool.c: the guide's memory pool integration: a fixed-size object pool over chunks
 * from malloc
 *
 * usage: seed_pool
 * The pool hands out 64-byte slots (objects of up to 64 bytes) from 4096-byte chunks of
 * 64 slots that it mallocs when its free list is empty, and never gives back:
 *   seed_pool_alloc(pool, size): a slot (NULL if size > 64); grows by one chunk first
 *     when no slot is free;
 *   seed_pool_free(pool, obj): the slot goes back on the free list (LIFO); NULL: nothing;
 *   seed_pool_grow(pool): mallocs a chunk, threads its slots onto the free list. It is the
 *     function that obtains the chunks: an untraced pool is found at its call site.
 * Traced by name (--alloc 'seedpool=seed_pool_alloc(_, size)' --free
 * 'seedpool=seed_pool_free(_, ptr)') the objects are the pool's user calls and the chunks
 * its backing; not named, the chunks are plain malloc calls from seed_pool_grow.
 *
 * The run: 200 objects of 48 bytes (4 chunks), the last 80 freed newest first, 100 more
 * (the 80 freed slots come back, then 20 never used: no new chunk). Nothing is freed at
 * the end. Prints one JSON line of the objects' patterns ({"objects": ...}, seed_pat.h)
 * and one of the chunks' ({"chunks": ...}), then exits 0. Nothing else allocates.
 */
#include "seed_pat.h"

#define OBJ_SIZE 64
#define PER_CHUNK 64
#define CHUNK_SIZE (OBJ_SIZE * PER_CHUNK)
#define MAX_CHUNKS 16
#define REQUEST 48 /* bytes asked for each object */
#define N1 200
#define NFREE 80
#define N3 100

struct seed_pool {
	void *free_list;
	void *chunks[MAX_CHUNKS];
	unsigned nchunks;
};

static struct sp objects, chunks; /* ground truth */

static void *(*volatile chunk_malloc_fn)(size_t) = malloc;

__attribute__((noipa)) void seed_pool_grow(struct seed_pool *pl)
{
	char *c;
	unsigned i;

	if (pl->nchunks == MAX_CHUNKS)
		gt_die("seed_pool: too many chunks");
	c = chunk_malloc_fn(CHUNK_SIZE); /* not a tail call: the caller is in here */
	if (!c)
		gt_die("seed_pool: malloc failed");
	sp_alloc(&chunks, c, CHUNK_SIZE);
	for (i = PER_CHUNK; i-- > 0;) {
		void **slot = (void **)(c + i * OBJ_SIZE);

		*slot = pl->free_list;
		pl->free_list = slot;
	}
	pl->chunks[pl->nchunks++] = c;
}

__attribute__((noipa)) void *seed_pool_alloc(struct seed_pool *pl, size_t size)
{
	void **slot;

	if (size > OBJ_SIZE)
		return NULL;
	if (!pl->free_list)
		seed_pool_grow(pl);
	slot = pl->free_list;
	pl->free_list = *slot;
	return slot;
}

__attribute__((noipa)) void seed_pool_free(struct seed_pool *pl, void *obj)
{
	if (!obj)
		return;
	*(void **)obj = pl->free_list;
	pl->free_list = obj;
}

static void *(*volatile pool_alloc_fn)(struct seed_pool *, size_t) = seed_pool_alloc;
static void (*volatile pool_free_fn)(struct seed_pool *, void *) = seed_pool_free;

static struct seed_pool pool;
static void *obj[N1 + N3];

static void *get(void)
{
	void *p = pool_alloc_fn(&pool, REQUEST);

	if (!p)
		gt_die("seed_pool_alloc failed");
	sp_alloc(&objects, p, REQUEST);
	gt_touch(p, REQUEST);
	return p;
}

int main(void)
{
	unsigned i;

	for (i = 0; i < N1; i++)
		obj[i] = get();
	for (i = N1; i-- > N1 - NFREE;) {
		pool_free_fn(&pool, obj[i]);
		sp_free(&objects, obj[i]);
	}
	for (i = N1 - NFREE; i < N1 - NFREE + N3; i++)
		obj[i] = get();
	if (pool.nchunks != (N1 + PER_CHUNK - 1) / PER_CHUNK)
		gt_die("seed_pool: unexpected number of chunks");
	sp_print(&objects, "objects");
	sp_print(&chunks, "chunks");
	return 0;
}
