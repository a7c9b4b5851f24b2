/* pool.c: a fixed-size object pool carving objects out of chunks from malloc
 *
 * usage: pool gated | pool run
 * gated: prints "ready <pid>", waits for SIGUSR1, runs the window, prints the ground
 * truth (one JSON line, agt.h), waits for SIGUSR2 and exits. run: runs the window from
 * the start, prints the ground truth and exits (nothing else in the process allocates,
 * so it is the whole process').
 *
 * The pool's functions, traced by name as allocator "objpool":
 *   obj_pool_alloc(pool, size): an object for size bytes (at most the pool's object
 *     size, else NULL: a failed call); a new chunk comes from malloc when no chunk has
 *     a free slot (the backing);
 *   obj_pool_free(pool, obj): NULL does nothing; a chunk left empty is released with
 *     free when the pool already keeps an empty one (one spare is kept);
 *   obj_pool_destroy(pool): frees every chunk. Traced as a free of the pool handle
 *     (--free 'objpool=obj_pool_destroy(ptr)'), which the pool never returned: each
 *     destroy is one unmatched free, its chunks are backing frees.
 * Pool handles are static: nothing but the pools' chunks comes from malloc, and no libc
 * function is called outside a pool function in the window (libc's user figures: 0).
 */
#include <stddef.h>
#include "agt.h"

struct chunk;

/* A slot: the chunk it belongs to, then the object */
struct slot {
	struct chunk *chunk;
	struct slot *next_free;
};

struct chunk {
	struct chunk *next, *prev;
	struct slot *free_slots;
	unsigned used;
	unsigned pad;
	/* then per_chunk slots of slot_size bytes */
};

struct obj_pool {
	size_t obj_size, slot_size, chunk_size;
	unsigned per_chunk;
	unsigned empty; /* chunks with no object in use (at most 1 is kept) */
	struct chunk *chunks;
};

static struct agt objpool = { .name = "objpool", .kind = "custom", .with_backing = 1 };

static void *(*volatile pool_malloc_fn)(size_t) = malloc;
static void (*volatile pool_free_fn)(void *) = free;

static void pool_init(struct obj_pool *pl, size_t obj_size, unsigned per_chunk)
{
	pl->obj_size = obj_size;
	pl->slot_size = (offsetof(struct slot, next_free) + obj_size + 15) & ~(size_t)15;
	pl->per_chunk = per_chunk;
	pl->chunk_size = sizeof(struct chunk) + per_chunk * pl->slot_size;
	pl->empty = 0;
	pl->chunks = NULL;
}

static void chunk_release(struct obj_pool *pl, struct chunk *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		pl->chunks = c->next;
	if (c->next)
		c->next->prev = c->prev;
	pool_free_fn(c);
	agt_backing_free(&objpool, pl->chunk_size);
}

__attribute__((noipa)) void *obj_pool_alloc(struct obj_pool *pl, size_t size)
{
	struct chunk *c;
	struct slot *s;
	unsigned i;

	if (size > pl->obj_size)
		return NULL;
	for (c = pl->chunks; c; c = c->next)
		if (c->free_slots)
			break;
	if (!c) {
		c = pool_malloc_fn(pl->chunk_size);
		agt_backing_alloc(&objpool, c, pl->chunk_size);
		if (!c)
			return NULL;
		c->used = 0;
		c->free_slots = NULL;
		for (i = pl->per_chunk; i-- > 0;) {
			s = (struct slot *)((char *)(c + 1) + i * pl->slot_size);
			s->chunk = c;
			s->next_free = c->free_slots;
			c->free_slots = s;
		}
		c->prev = NULL;
		c->next = pl->chunks;
		if (c->next)
			c->next->prev = c;
		pl->chunks = c;
		pl->empty++;
	}
	s = c->free_slots;
	c->free_slots = s->next_free;
	if (c->used++ == 0)
		pl->empty--;
	return &s->next_free;
}

__attribute__((noipa)) void obj_pool_free(struct obj_pool *pl, void *obj)
{
	struct slot *s;
	struct chunk *c;

	if (!obj)
		return;
	s = (struct slot *)((char *)obj - offsetof(struct slot, next_free));
	c = s->chunk;
	s->next_free = c->free_slots;
	c->free_slots = s;
	if (--c->used)
		return;
	if (pl->empty)
		chunk_release(pl, c);
	else
		pl->empty++;
}

__attribute__((noipa)) void obj_pool_destroy(struct obj_pool *pl)
{
	while (pl->chunks)
		chunk_release(pl, pl->chunks);
	pl->empty = 0;
}

static void *(*volatile obj_pool_alloc_fn)(struct obj_pool *, size_t) = obj_pool_alloc;
static void (*volatile obj_pool_free_fn)(struct obj_pool *, void *) = obj_pool_free;
static void (*volatile obj_pool_destroy_fn)(struct obj_pool *) = obj_pool_destroy;

static void *pool_get(struct obj_pool *pl, size_t n)
{
	void *p = obj_pool_alloc_fn(pl, n);

	agt_alloc(&objpool, "obj_pool_alloc", p, n);
	return p;
}

static void pool_put(struct obj_pool *pl, struct blk *b)
{
	obj_pool_free_fn(pl, b->p);
	if (b->p)
		agt_free(&objpool, "obj_pool_free", b->n);
	b->p = NULL;
}

#define NA 100
#define NA2 70
#define NB 20

static void window(void)
{
	static struct obj_pool a, bpool;
	static struct blk oa[NA + NA2], ob[NB];
	struct agt *all[1] = { &objpool };
	unsigned i;

	pool_init(&a, 48, 16);
	pool_init(&bpool, 200, 8);

	/* pool a: 100 objects of 1 to 48 bytes (7 chunks), then 90 freed; chunks 3 to 6
	 * empty: one kept as the spare, three released inside obj_pool_free */
	for (i = 0; i < NA; i++)
		oa[i].p = pool_get(&a, oa[i].n = 1 + (i * 7) % 48);
	for (i = 0; i < NA; i++)
		if (i >= 50 || i % 10)
			pool_put(&a, &oa[i]);
	/* three requests above the object size fail; free(NULL) is no call at all */
	for (i = 0; i < 3; i++)
		if (pool_get(&a, 49 + i))
			gt_die("obj_pool_alloc above the object size succeeded");
	pool_put(&a, &oa[NA - 1]); /* NULL by now */
	/* 70 more: the spare chunk (the list's head) takes 16, the partly used chunks 43,
	 * a new chunk the last 11; then every third of them freed */
	for (i = NA; i < NA + NA2; i++)
		oa[i].p = pool_get(&a, oa[i].n = 8 + i % 40);
	for (i = NA; i < NA + NA2; i += 3)
		pool_put(&a, &oa[i]);

	/* pool b: 20 objects of 200 bytes (3 chunks), all freed (two empty chunks
	 * released, one kept), then destroyed: its last chunk freed inside the destroy */
	for (i = 0; i < NB; i++)
		ob[i].p = pool_get(&bpool, ob[i].n = 100 + i * 5);
	for (i = 0; i < NB; i++)
		pool_put(&bpool, &ob[i]);
	obj_pool_destroy_fn(&bpool);
	agt_free_unmatched(&objpool, "obj_pool_destroy");
	agt_print(all, 1);
}

int main(int argc, char **argv)
{
	sigset_t set;

	if (argc != 2 || (strcmp(argv[1], "gated") && strcmp(argv[1], "run")))
		gt_die("usage: pool gated|run");
	if (!strcmp(argv[1], "run")) {
		window();
		return 0;
	}
	gt_block_signals(&set);
	gt_ready();
	gt_wait_signal(SIGUSR1);
	window();
	gt_wait_signal(SIGUSR2);
	return 0;
}
