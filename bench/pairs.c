/* pairs.c: malloc(64)+free pairs in a loop on T threads, ns per pair by wall and thread CPU */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define WL_NAME "pairs"
#define WL_OP "pair"
#define BATCH 64

enum { C_MALLOC, C_FREE, C_N };

struct wl_state {
	uint64_t calls[C_N];
};

static void wl_init(struct wl_state *s)
{
}

static void wl_fini(struct wl_state *s)
{
}

/* BATCH pairs; the empty asm keeps each pointer used, so GCC keeps malloc and free */
static uint64_t wl_batch(struct wl_state *s)
{
	int i;

	for (i = 0; i < BATCH; i++) {
		void *p = malloc(64);

		if (!p)
			abort();
		__asm__ volatile("" ::"r"(p) : "memory");
		free(p);
	}
	s->calls[C_MALLOC] += BATCH;
	s->calls[C_FREE] += BATCH;
	return BATCH;
}

static void wl_counts(FILE *f, const struct wl_state *s)
{
	fprintf(f, ",\"calls\":{\"malloc\":%llu,\"free\":%llu}",
		(unsigned long long)s->calls[C_MALLOC], (unsigned long long)s->calls[C_FREE]);
}

#include "workload.h"

int main(int argc, char **argv)
{
	return wl_main(argc, argv);
}
