/* demo.c: memscope-demo, five seconds of the memscope-rs guide's allocation patterns */

/*
 * Phases, about one second each, so that `memscope-bpf -i 1 -- build/memscope-demo` shows each in
 * its own interval:
 *   1. 1000 small vector-like blocks of 10 ints, all live together, then freed at once
 *   2. one block of 1,000,000 ints (4 MB: glibc serves it with mmap), held for a second
 *   3. an object pool of the program's own: 1000 objects from 4 chunks it mallocs and keeps
 *   4. calloc/realloc churn: a buffer grown by doubling, 100 rounds
 *   5. three blocks deliberately left live at exit (with the pool's 4 chunks: 7 live blocks)
 *
 * The demo counts its own calls with the tracer's definitions and prints them to stderr at the
 * end, so the figures can be checked against the tracer's. It writes nothing to stdout (a
 * buffered stdout would malloc its buffer) and nothing else allocates in between, so with
 * `-- build/memscope-demo` the two agree unless the C library allocates on its own.
 *
 * Usage: memscope-demo [DELAY_SECS]   (wait DELAY_SECS before phase 1, time to attach with -p)
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* What the demo did, counted like memscope-bpf counts it */
static struct {
	unsigned long allocs, frees; /* realloc of a block: one free plus one alloc */
	unsigned long n_malloc, n_calloc, n_realloc, n_free;
	unsigned long alloc_bytes, freed_bytes; /* requested bytes */
	unsigned long live_allocs, live_bytes, peak_bytes;
} st;

/* Keep the compiler from dropping a malloc/free pair whose memory it thinks is unused */
static inline void use(void *p)
{
	__asm__ volatile("" : : "r"(p) : "memory");
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0)
		;
}

static void note_alloc(size_t size)
{
	st.allocs++;
	st.alloc_bytes += size;
	st.live_allocs++;
	st.live_bytes += size;
	if (st.live_bytes > st.peak_bytes)
		st.peak_bytes = st.live_bytes;
}

static void note_free(size_t size)
{
	st.frees++;
	st.freed_bytes += size;
	st.live_allocs--;
	st.live_bytes -= size;
}

static void die(const char *what)
{
	fprintf(stderr, "memscope-demo: %s failed\n", what);
	exit(1);
}

static void *d_malloc(size_t size)
{
	void *p = malloc(size);

	if (!p)
		die("malloc");
	st.n_malloc++;
	note_alloc(size);
	return p;
}

static void *d_calloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb, size);

	if (!p)
		die("calloc");
	st.n_calloc++;
	note_alloc(nmemb * size);
	return p;
}

/* p is never NULL and size never 0 here: a plain resize, one free plus one alloc */
static void *d_realloc(void *p, size_t old_size, size_t size)
{
	void *q = realloc(p, size);

	if (!q)
		die("realloc");
	st.n_realloc++;
	note_free(old_size);
	note_alloc(size);
	return q;
}

static void d_free(void *p, size_t size)
{
	free(p);
	st.n_free++;
	note_free(size);
}

/* 1. 1000 vec![i; 10]: all alive at once, then dropped together */
#define N_SMALL 1000
#define SMALL_LEN 10
static int *small[N_SMALL];

static void phase_small_vectors(void)
{
	for (int i = 0; i < N_SMALL; i++) {
		small[i] = d_malloc(SMALL_LEN * sizeof(int));
		for (int k = 0; k < SMALL_LEN; k++)
			small[i][k] = i;
	}
	sleep_ms(500);
	for (int i = 0; i < N_SMALL; i++) {
		use(small[i]);
		d_free(small[i], SMALL_LEN * sizeof(int));
		small[i] = NULL;
	}
	sleep_ms(500);
}

/* 2. vec![0; 1_000_000] */
#define BIG_LEN 1000000

static void phase_large_block(void)
{
	int *big = d_malloc(BIG_LEN * sizeof(int));

	memset(big, 0, BIG_LEN * sizeof(int));
	for (int i = 0; i < BIG_LEN; i += 1024)
		big[i] = i;
	use(big);
	sleep_ms(1000);
	d_free(big, BIG_LEN * sizeof(int));
}

/*
 * 3. an object pool, written as a program writes one: pool_alloc() hands out objects of up to
 * 64 bytes from chunks of 32 slots that it mallocs itself when no slot is free; pool_free()
 * puts an object back on the free list. The pool lives as long as the program: its chunks stay
 * to the end. Not named, memscope-bpf finds it at pool_alloc's malloc call (a pool
 * candidate); named (--alloc 'demopool=pool_alloc(_, size)' --free 'demopool=pool_free(_,
 * ptr)'), the objects are the pool's users' calls and the chunks its backing (a pool).
 */
#define OBJ_SIZE 64
#define OBJS_PER_CHUNK 32

struct pool_chunk {
	struct pool_chunk *next;
	unsigned char objs[OBJS_PER_CHUNK][OBJ_SIZE];
};

struct pool {
	struct pool_chunk *chunks; /* every chunk */
	void *free_list;	   /* free objects, linked through their first word */
};

static struct pool pool; /* the program's pool, never destroyed */

/* noipa: stays a function of its own, with its own name, for the probes and the call site */
__attribute__((noipa)) void *pool_alloc(struct pool *pl, size_t size)
{
	void *obj;

	if (size > OBJ_SIZE)
		return NULL;
	if (!pl->free_list) {
		struct pool_chunk *c = malloc(sizeof(*c));

		if (!c)
			die("malloc");
		st.n_malloc++;
		note_alloc(sizeof(*c));
		c->next = pl->chunks;
		pl->chunks = c;
		for (int i = OBJS_PER_CHUNK - 1; i >= 0; i--) {
			*(void **)c->objs[i] = pl->free_list;
			pl->free_list = c->objs[i];
		}
	}
	obj = pl->free_list;
	pl->free_list = *(void **)obj;
	return obj;
}

__attribute__((noipa)) void pool_free(struct pool *pl, void *obj)
{
	if (!obj)
		return;
	*(void **)obj = pl->free_list;
	pl->free_list = obj;
}

#define POOL_LIVE 100 /* objects in use at once: 4 chunks */
#define POOL_ROUNDS 10

static void phase_object_pool(void)
{
	void *objs[POOL_LIVE];

	for (int r = 0; r < POOL_ROUNDS; r++) {
		for (int i = 0; i < POOL_LIVE; i++) {
			objs[i] = pool_alloc(&pool, OBJ_SIZE);
			memset((char *)objs[i] + sizeof(void *), r, OBJ_SIZE - sizeof(void *));
		}
		for (int i = POOL_LIVE - 1; i >= 0; i--)
			pool_free(&pool, objs[i]);
		sleep_ms(1000 / POOL_ROUNDS);
	}
}

/* 4. calloc a small array, grow it by doubling with realloc, free it; 100 rounds */
#define CHURN_ROUNDS 100
#define CHURN_START 16 /* ints */
#define CHURN_GROWTHS 4

static void phase_churn(void)
{
	for (int r = 0; r < CHURN_ROUNDS; r++) {
		size_t n = CHURN_START;
		int *v = d_calloc(n, sizeof(int));

		for (int g = 0; g < CHURN_GROWTHS; g++) {
			v = d_realloc(v, n * sizeof(int), 2 * n * sizeof(int));
			for (size_t k = n; k < 2 * n; k++)
				v[k] = r;
			n *= 2;
		}
		use(v);
		d_free(v, n * sizeof(int));
		sleep_ms(10);
	}
}

/* 5. blocks still live when the program exits */
static void *leaked[3];

static void phase_leak(void)
{
	leaked[0] = d_malloc(1000);
	leaked[1] = d_calloc(256, 16);
	leaked[2] = d_malloc(100000);
	for (int i = 0; i < 3; i++) {
		memset(leaked[i], 0xa5, 16);
		use(leaked[i]);
	}
	sleep_ms(1000);
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		void (*run)(void);
	} phases[] = {
		{ "1000 small vectors of 10 ints, freed at once", phase_small_vectors },
		{ "one block of 1,000,000 ints", phase_large_block },
		{ "an object pool over chunks it mallocs and keeps", phase_object_pool },
		{ "calloc/realloc churn", phase_churn },
		{ "3 blocks left live at exit", phase_leak },
	};
	long delay = 0;
	char *end = NULL;

	if (argc == 2)
		delay = strtol(argv[1], &end, 10);
	if (argc > 2 || (argc == 2 && (end == argv[1] || *end || delay < 0))) {
		fprintf(stderr, "usage: memscope-demo [DELAY_SECS]\n");
		return 2;
	}
	fprintf(stderr, "memscope-demo: pid %ld\n", (long)getpid());
	if (delay > 0)
		sleep_ms(delay * 1000);

	for (size_t i = 0; i < sizeof(phases) / sizeof(phases[0]); i++) {
		fprintf(stderr, "memscope-demo: phase %zu: %s\n", i + 1, phases[i].name);
		phases[i].run();
	}

	fprintf(stderr,
		"memscope-demo: own calls: allocs=%lu frees=%lu alloc_bytes=%lu freed_bytes=%lu "
		"live_allocs=%lu live_bytes=%lu peak_bytes=%lu\n",
		st.allocs, st.frees, st.alloc_bytes, st.freed_bytes, st.live_allocs, st.live_bytes,
		st.peak_bytes);
	fprintf(stderr, "memscope-demo: by_func: malloc=%lu calloc=%lu realloc=%lu free=%lu\n",
		st.n_malloc, st.n_calloc, st.n_realloc, st.n_free);
	return 0;
}
