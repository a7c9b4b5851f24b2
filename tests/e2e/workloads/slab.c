/* slab.c: a fixed-size allocator without a size argument and an out-parameter allocator
 *
 * usage: slab
 * Prints "ready <pid>", waits for SIGUSR1, runs the window, prints the ground truth (one
 * JSON line, agt.h), waits for SIGUSR2 and exits.
 *
 * Traced by name, all unnamed (one allocator, "custom"):
 *   --alloc 'slab_get(_)=64' --free 'slab_put(_, ptr)'
 *   --alloc 'my_memalign(out, _, size)' --free 'my_aligned_free(ptr)'
 * slab_get(slab): a 64-byte block from a static array, NULL once all are out (a failed
 * call); slab_put(slab, p) gives it back. No backing.
 * my_memalign(&p, align, size): 0 and the block through the out-parameter, or non-zero:
 * ENOMEM above MY_MEMALIGN_MAX without any other call, else posix_memalign's status
 * (EINVAL for an alignment that is not a power of two: a failed backing call too). Its
 * blocks come from posix_memalign and go back with free inside my_aligned_free (the
 * backing: exactly one libc call per successful my_memalign and per my_aligned_free).
 */
#include "agt.h"

#define SLAB_OBJ 64
#define SLAB_N 32
#define MY_MEMALIGN_MAX (1u << 20)

struct slab {
	unsigned nfree;
	void *free_list[SLAB_N];
	_Alignas(64) char mem[SLAB_N][SLAB_OBJ];
};

static struct agt custom = { .name = "custom", .kind = "custom", .with_backing = 1 };

static int (*volatile posix_memalign_fn)(void **, size_t, size_t) = posix_memalign;
static void (*volatile free_fn)(void *) = free;

static void slab_init(struct slab *s)
{
	unsigned i;

	for (i = 0; i < SLAB_N; i++)
		s->free_list[i] = s->mem[SLAB_N - 1 - i];
	s->nfree = SLAB_N;
}

__attribute__((noipa)) void *slab_get(struct slab *s)
{
	return s->nfree ? s->free_list[--s->nfree] : NULL;
}

__attribute__((noipa)) void slab_put(struct slab *s, void *p)
{
	if (p)
		s->free_list[s->nfree++] = p;
}

/* Ground truth of the backing: one posix_memalign call inside */
static size_t backing_size;

__attribute__((noipa)) int my_memalign(void **out, size_t align, size_t size)
{
	int rc;

	if (size > MY_MEMALIGN_MAX)
		return ENOMEM;
	rc = posix_memalign_fn(out, align, size);
	agt_backing_alloc(&custom, rc ? NULL : *out, size);
	return rc;
}

__attribute__((noipa)) void my_aligned_free(void *p)
{
	free_fn(p);
	if (p)
		agt_backing_free(&custom, backing_size);
}

static void *(*volatile slab_get_fn)(struct slab *) = slab_get;
static void (*volatile slab_put_fn)(struct slab *, void *) = slab_put;
static int (*volatile my_memalign_fn)(void **, size_t, size_t) = my_memalign;
static void (*volatile my_aligned_free_fn)(void *) = my_aligned_free;

static void *get(struct slab *s)
{
	void *p = slab_get_fn(s);

	agt_alloc(&custom, "slab_get", p, SLAB_OBJ);
	return p;
}

static void put(struct slab *s, void *p)
{
	slab_put_fn(s, p);
	if (p)
		agt_free(&custom, "slab_put", SLAB_OBJ);
}

static void *amem(size_t align, size_t n)
{
	void *p = NULL;
	int rc = my_memalign_fn(&p, align, n);

	agt_alloc(&custom, "my_memalign", rc ? NULL : p, n);
	return rc ? NULL : p;
}

static void afree(void *p, size_t n)
{
	backing_size = n;
	my_aligned_free_fn(p);
	if (p)
		agt_free(&custom, "my_aligned_free", n);
}

int main(void)
{
	static struct slab s;
	struct agt *all[1] = { &custom };
	void *obj[SLAB_N + 1];
	struct blk m[40];
	sigset_t set;
	unsigned i;

	slab_init(&s);
	gt_block_signals(&set);
	gt_ready();
	gt_wait_signal(SIGUSR1);

	/* ---- the window ---- */
	/* all 32 slab blocks, then one more: a failed call */
	for (i = 0; i < SLAB_N; i++)
		obj[i] = get(&s);
	if (get(&s))
		gt_die("slab_get of an empty slab succeeded");
	/* 20 back, 5 out again: 17 live */
	for (i = 0; i < 20; i++)
		put(&s, obj[i]);
	for (i = 0; i < 5; i++)
		obj[i] = get(&s);
	put(&s, NULL); /* no call at all for the tracer */

	/* 40 aligned blocks of 1 to 12000 bytes, 16 to 4096 aligned; 30 freed */
	for (i = 0; i < 40; i++) {
		m[i].n = 1 + (i * 2957u) % 12000;
		m[i].p = amem((size_t)16 << (i % 9), m[i].n);
		if (!m[i].p)
			gt_die("my_memalign failed");
	}
	for (i = 0; i < 40; i++)
		if (i % 4)
			afree(m[i].p, m[i].n);
	/* failures: too large (no backing call), a bad alignment (a failed backing call) */
	if (amem(64, MY_MEMALIGN_MAX + 1) || amem(64, (size_t)1 << 40))
		gt_die("my_memalign above its limit succeeded");
	if (amem(48, 100) || amem(3, 1000))
		gt_die("my_memalign with a bad alignment succeeded");
	afree(NULL, 0); /* no call at all for the tracer */

	agt_print(all, 1);
	gt_wait_signal(SIGUSR2);
	return 0;
}
