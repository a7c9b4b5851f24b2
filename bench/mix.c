/* mix.c: a mix of sizes through malloc, calloc, realloc, posix_memalign and free on T threads */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WL_NAME "mix"
#define WL_OP "call"
#define SLOTS 64 /* live blocks per thread: frees are not in allocation order */
#define BATCH 64 /* steps per batch: 16 of each kind, 112 allocator calls */

enum { C_MALLOC, C_CALLOC, C_REALLOC, C_MEMALIGN, C_FREE, C_N };

struct wl_state {
	uint64_t calls[C_N];
	uint64_t step;
	void *slot[SLOTS];
};

/* requested sizes: small to 16 KiB, under the mmap threshold so no mmap per call */
static const unsigned sizes[16] = { 24,	  48,	100,  200,  256,  512,	 700,	1024,
				    1500, 2048, 3000, 4096, 6000, 8192, 12000, 16384 };

static void wl_init(struct wl_state *s)
{
	int i;

	for (i = 0; i < SLOTS; i++) {
		s->slot[i] = malloc(16);
		if (!s->slot[i])
			abort();
	}
}

static void wl_fini(struct wl_state *s)
{
	int i;

	for (i = 0; i < SLOTS; i++)
		free(s->slot[i]);
}

/*
 * One step replaces one slot's block: free+malloc, free+calloc, realloc, or
 * free+posix_memalign, in turn; the slot and the size move with the step number.
 */
static uint64_t wl_batch(struct wl_state *s)
{
	uint64_t calls = 0;
	int i;

	for (i = 0; i < BATCH; i++, s->step++) {
		uint64_t k = s->step;
		unsigned slot = (k * 37) % SLOTS;
		size_t sz = sizes[(k * 7 + (k >> 4)) & 15];
		void *p = s->slot[slot];

		switch (k & 3) {
		case 0:
			free(p);
			p = malloc(sz);
			s->calls[C_FREE]++;
			s->calls[C_MALLOC]++;
			calls += 2;
			break;
		case 1:
			free(p);
			p = calloc(sz / 8, 8);
			s->calls[C_FREE]++;
			s->calls[C_CALLOC]++;
			calls += 2;
			break;
		case 2:
			p = realloc(p, sz);
			s->calls[C_REALLOC]++;
			calls += 1;
			break;
		default:
			free(p);
			if (posix_memalign(&p, 64, sz))
				p = NULL;
			s->calls[C_FREE]++;
			s->calls[C_MEMALIGN]++;
			calls += 2;
			break;
		}
		if (!p)
			abort();
		*(volatile char *)p = (char)k;
		__asm__ volatile("" ::"r"(p) : "memory");
		s->slot[slot] = p;
	}
	return calls;
}

static void wl_counts(FILE *f, const struct wl_state *s)
{
	fprintf(f,
		",\"calls\":{\"malloc\":%llu,\"calloc\":%llu,\"realloc\":%llu,"
		"\"posix_memalign\":%llu,\"free\":%llu}",
		(unsigned long long)s->calls[C_MALLOC], (unsigned long long)s->calls[C_CALLOC],
		(unsigned long long)s->calls[C_REALLOC], (unsigned long long)s->calls[C_MEMALIGN],
		(unsigned long long)s->calls[C_FREE]);
}

#include "workload.h"

int main(int argc, char **argv)
{
	return wl_main(argc, argv);
}
