/* daemon.c: what the daemon's own work costs a record, apart from any source: its exact
 * statistics (user/stats.c, every figure a record feeds: counts, peaks, size classes,
 * lifetimes, reuse, NUMA nodes, call sites) and the merge that orders the sources' records
 * by time (user/merge.c). The floor under the in-process source's block mode: a writer that
 * waits for the daemon runs at its pace, two records a malloc+free pair.
 *
 * Two streams, as the bench's workloads make them: pairs (malloc of one size, free, the
 * same address again) and mix (64 live blocks, sizes from 24 bytes to 16 KiB, frees out of
 * allocation order, every fourth step a realloc that moves). Each is applied as the daemon
 * does: straight to the statistics, then through the merge (pushed to one queue in
 * batches of 4,096, drained as the other queue is seen quiet past them). Prints one JSON
 * line per (stream, part): ns per record, the best of three runs.
 *
 * usage: daemon [-n RECORDS] [-s pairs|mix]
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "catalog.h"
#include "merge.h"
#include "stats.h"

enum { F_MALLOC = 1, F_FREE, F_REALLOC, F_CALLOC };
#define PID 4242
#define BATCH 4096
#define SLOTS 64

static const unsigned sizes[16] = { 24,	  48,	100,  200,  256,  512,	 700,	1024,
				    1500, 2048, 3000, 4096, 6000, 8192, 12000, 16384 };

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static struct ms_event record(uint8_t type, uint16_t func, uint64_t ptr, uint64_t size,
			      uint64_t ret, uint64_t ts)
{
	struct ms_event e;

	memset(&e, 0, sizeof(e));
	e.type = type;
	e.func = func;
	e.tgid = e.tid = PID;
	e.ts_ns = ts;
	e.a.ptr = ptr;
	e.a.size = size;
	e.a.ret = ret;
	e.stack_id = -1;
	e.caller = 0x401000 + 0x40 * func; /* one call site per function */
	return e;
}

/* The stream's records, n of them (n even) */
static struct ms_event *stream(const char *name, size_t n)
{
	struct ms_event *v = malloc(n * sizeof(*v));
	uint64_t slot[SLOTS] = { 0 }, gen = 0, ts = 1000;
	size_t i = 0;

	if (!v)
		return NULL;
	while (i < n) {
		uint64_t k = i / 2, s = (k * 7) % SLOTS, size = sizes[(k * 5) % 16], at;

		ts += 10;
		if (!strcmp(name, "pairs")) {
			v[i++] = record(MS_EV_ALLOC, F_MALLOC, 0x7f0000001000, 64, 0, ts);
			v[i++] = record(MS_EV_FREE, F_FREE, 0x7f0000001000, 0, 0, ts + 5);
			continue;
		}
		/* a new address per generation of the slot, a few reused (as malloc does) */
		at = 0x7f0000000000 + s * 0x10000 + (++gen % 3) * 0x4000;
		if (slot[s] && k % 4 == 3) {
			v[i++] = record(MS_EV_REALLOC_ENTER, F_REALLOC, slot[s], size, 0, ts);
			v[i++] = record(MS_EV_REALLOC, F_REALLOC, slot[s], size, at, ts + 5);
		} else {
			if (slot[s])
				v[i++] = record(MS_EV_FREE, F_FREE, slot[s], 0, 0, ts);
			else
				v[i++] = record(MS_EV_FREE, F_FREE, at ^ 0x8000, 0, 0, ts);
			v[i++] = record(MS_EV_ALLOC, k % 2 ? F_CALLOC : F_MALLOC, at, size, 0, ts + 5);
		}
		slot[s] = at;
	}
	return v;
}

static struct ms_catalog *libc_catalog(void)
{
	static const struct ms_func f[] = {
		{ .name = "malloc", .allocator = 1, .kind = MS_FN_ALLOC },
		{ .name = "free", .allocator = 1, .kind = MS_FN_FREE },
		{ .name = "realloc", .allocator = 1, .kind = MS_FN_REALLOC },
		{ .name = "calloc", .allocator = 1, .kind = MS_FN_ALLOC },
	};
	struct ms_catalog *c = ms_catalog_new();
	size_t i;

	for (i = 0; c && i < sizeof(f) / sizeof(f[0]); i++)
		if (ms_catalog_add_func(c, &f[i]) < 0)
			return NULL;
	return c;
}

static void apply(void *ctx, const struct ms_event *e)
{
	ms_stats_apply(ctx, e);
}

/* ns per record of the stream v (n records) applied once, straight or through the merge;
 * the records' figures are checked against the stream's */
static double run(const struct ms_catalog *cat, const struct ms_event *v, size_t n, bool merged)
{
	struct ms_stats s;
	struct ms_merge m;
	uint64_t t0, t1;
	size_t i, j;

	ms_stats_init(&s, cat, NULL, NULL);
	s.sites = true; /* as the daemon keeps them */
	if (ms_merge_init(&m, 2))
		return -1;
	t0 = now_ns();
	if (!merged) {
		for (i = 0; i < n; i++)
			ms_stats_apply(&s, &v[i]);
	} else {
		for (i = 0; i < n; i += BATCH) {
			for (j = i; j < n && j < i + BATCH; j++)
				ms_merge_push(&m, 0, &v[j]);
			ms_merge_quiet(&m, 1, v[j - 1].ts_ns);
			ms_merge_quiet(&m, 0, v[j - 1].ts_ns);
			ms_merge_drain_ready(&m, 0, apply, &s);
		}
	}
	t1 = now_ns();
	if (s.events != n) {
		fprintf(stderr, "daemon: %llu records applied of %zu\n",
			(unsigned long long)s.events, n);
		exit(1);
	}
	ms_merge_free(&m);
	ms_stats_free(&s);
	return (double)(t1 - t0) / n;
}

int main(int argc, char **argv)
{
	static const char *const streams[] = { "pairs", "mix" };
	const char *only = NULL;
	size_t n = 4000000, k;
	struct ms_catalog *cat = libc_catalog();
	int opt;

	while ((opt = getopt(argc, argv, "n:s:")) != -1) {
		if (opt == 's') {
			only = optarg;
		} else if (opt != 'n' || (n = strtoul(optarg, NULL, 10) & ~(size_t)1) < 2) {
			fprintf(stderr, "usage: daemon [-n RECORDS] [-s pairs|mix]\n");
			return 2;
		}
	}
	if (!cat)
		return 1;
	for (k = 0; k < sizeof(streams) / sizeof(streams[0]); k++) {
		struct ms_event *v;
		int merged, r;

		if (only && strcmp(only, streams[k]))
			continue;
		v = stream(streams[k], n);
		if (!v)
			return 1;
		for (merged = 0; merged < 2; merged++) {
			double best = 0;

			for (r = 0; r < 3; r++) {
				double ns = run(cat, v, n, merged);

				if (ns < 0)
					return 1;
				if (!r || ns < best)
					best = ns;
			}
			printf("{\"stream\":\"%s\",\"part\":\"%s\",\"records\":%zu,"
			       "\"ns_per_record\":%.1f}\n",
			       streams[k], merged ? "merge+statistics" : "statistics", n, best);
		}
		free(v);
	}
	ms_catalog_free(cat);
	return 0;
}
