// build: -O2 -fomit-frame-pointer
/* leaks_nofp.c: built as distributions build their packages (-O2, no frame pointers), two
 * functions leak through one wrapper three calls down, whose malloc is in a function
 * inlined into it:
 *   ingest_orders  -> grow_table -> make_node -> wrap_alloc -> (alloc_node) -> malloc
 *   cache_sessions -> grow_table -> make_node -> wrap_alloc -> (alloc_node) -> malloc
 * and a third frees what it allocates the same way (a site that holds nothing live):
 *   serve_requests -> handle_request -> make_node -> wrap_alloc -> (alloc_node) -> malloc
 * A frame-pointer walk stops in wrap_alloc, so both leaks show as one site; a walk from
 * the call frame information tells them apart, down to main and _start, and the inlined
 * alloc_node is a frame of its own (the line of its malloc; wrap_alloc's line is the call
 * of alloc_node).
 *
 * usage: leaks_nofp N M [stop]
 * Prints "ready <pid>", waits for SIGUSR1, allocates N blocks of 40 bytes through
 * ingest_orders and M of 56 bytes through cache_sessions (all kept), and 50 of 24 bytes
 * through serve_requests (each freed), prints {"ingest": N, "cache": M, "served": 50},
 * waits for SIGUSR2 and exits. With "stop", it stops itself
 * (SIGSTOP) in wrap_alloc just before the first malloc of each path, so that another
 * unwinder (eu-stack) can take the same stack.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include "gt.h"

#define NOINLINE __attribute__((noinline, noclone))
/* a call whose result is used after it: never a tail call, its frame stays */
#define KEEP(p) __asm__ volatile("" : : "r"(p) : "memory")

#define SERVED 50

static int stop_before[3]; /* path -> stop before its first malloc */
static int path;
static void *keep[200000];
static unsigned nkeep;

static inline __attribute__((always_inline)) void *alloc_node(size_t n)
{
	void *p = malloc(n); /* malloc in alloc_node */

	KEEP(p);
	return p;
}

NOINLINE static void *wrap_alloc(size_t n)
{
	if (stop_before[path]) {
		stop_before[path] = 0;
		raise(SIGSTOP);
	}
	return alloc_node(n); /* alloc_node in wrap_alloc */
}

NOINLINE static void *make_node(size_t n, unsigned tag)
{
	unsigned *p = wrap_alloc(n);

	if (p)
		p[0] = tag;
	KEEP(p);
	return p;
}

NOINLINE static void grow_table(unsigned count, size_t n, unsigned tag)
{
	unsigned i;

	for (i = 0; i < count && nkeep < sizeof(keep) / sizeof(keep[0]); i++)
		keep[nkeep++] = make_node(n, tag + i);
	KEEP(keep);
}

NOINLINE static void ingest_orders(unsigned n)
{
	path = 0;
	grow_table(n, 40, 0x1000);
	KEEP(keep);
}

NOINLINE static void cache_sessions(unsigned n)
{
	path = 1;
	grow_table(n, 56, 0x2000);
	KEEP(&path);
}

NOINLINE static void handle_request(unsigned tag)
{
	void *p = make_node(24, tag);

	KEEP(p);
	free(p);
}

NOINLINE static void serve_requests(unsigned n)
{
	unsigned i;

	path = 2;
	for (i = 0; i < n; i++)
		handle_request(0x3000 + i);
	KEEP(&path);
}

int main(int argc, char **argv)
{
	unsigned long n = gt_arg(argc, argv, 1, 100), m = gt_arg(argc, argv, 2, 50);
	sigset_t set;
	char line[64];
	int len;

	if (n + m > sizeof(keep) / sizeof(keep[0]))
		gt_die("usage: leaks_nofp N M [stop] (N + M <= 200000)");
	if (argc > 3 && !strcmp(argv[3], "stop"))
		stop_before[0] = stop_before[1] = 1;
	gt_block_signals(&set);
	gt_ready();
	gt_wait_signal(SIGUSR1);
	ingest_orders((unsigned)n);
	cache_sessions((unsigned)m);
	serve_requests(SERVED);
	len = snprintf(line, sizeof(line), "{\"ingest\": %lu, \"cache\": %lu, \"served\": %d}\n", n,
		       m, SERVED);
	if (write(1, line, len) != len)
		return 1;
	gt_wait_signal(SIGUSR2);
	return 0;
}
