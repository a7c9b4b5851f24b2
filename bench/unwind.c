/* unwind.c: what a stack costs when the allocating process walks it itself (issue 20's
 * "--stacks in-process"), by the three ways a preloaded library could: frame pointers
 * (a few lines, bounded to the thread's stack), glibc's backtrace() (libgcc's unwinder,
 * .eh_frame, no cache: about 150 ns a frame here) and libunwind's unw_backtrace() (.eh_frame,
 * cached), with its default caching policy and with UNW_CACHE_PER_THREAD (no lock: what
 * libmemscope-preload.so sets). Each is timed at the
 * same leaf, under DEPTH frames of this program (built with frame pointers), once called
 * straight and once through a C library function without them (qsort's comparator), as
 * an allocation inside a library is. Prints one JSON line per (path, way): ns per stack
 * and the frames found, and whether the stack reached main.
 *
 * usage: unwind [-d DEPTH] [-n STACKS]
 */
#define _GNU_SOURCE
#define UNW_LOCAL_ONLY
#include <dlfcn.h>
#include <libunwind.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_FRAMES 128

enum way { W_FP, W_BACKTRACE, W_LIBUNWIND, W_LIBUNWIND_PT, W_N };
static const char *const way_name[W_N] = { "frame pointers", "glibc backtrace()",
					   "libunwind unw_backtrace()",
					   "libunwind unw_backtrace() per-thread cache" };

/* glibc's backtrace(), looked up in libc.so.6: libunwind.so.8, which this program links,
 * defines a backtrace of its own that a plain call would reach first */
static int (*glibc_backtrace)(void **out, int max);

static uintptr_t stack_lo, stack_hi; /* this thread's stack */
static uintptr_t in_main;	     /* where main's call of chain returns to */

/* The frame-pointer walk a preloaded library would do: return addresses up the rbp chain,
 * each frame inside the thread's stack and above the last (else the walk stops: code
 * without frame pointers leaves anything in rbp) */
static __attribute__((noinline)) int walk_fp(void **out, int max)
{
	uintptr_t *fp = __builtin_frame_address(0);
	int n = 0;

	while (n < max && (uintptr_t)fp >= stack_lo && (uintptr_t)fp + 16 <= stack_hi &&
	       !((uintptr_t)fp & 7)) {
		uintptr_t *next = (uintptr_t *)fp[0];

		out[n++] = (void *)fp[1];
		if (next <= fp)
			break;
		fp = next;
	}
	return n;
}

static int take(enum way w, void **out, int max)
{
	switch (w) {
	case W_FP:
		return walk_fp(out, max);
	case W_BACKTRACE:
		return glibc_backtrace(out, max);
	default:
		return unw_backtrace(out, max);
	}
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

struct job {
	enum way way;
	long stacks;
	double ns;     /* per stack */
	int frames;    /* of the last stack */
	bool has_main; /* a frame inside main */
};

static struct job *job_now;

static __attribute__((noinline)) void leaf(void)
{
	void *f[MAX_FRAMES];
	uint64_t t0;
	long i;
	int n = 0, k;

	t0 = now_ns();
	for (i = 0; i < job_now->stacks; i++) {
		n = take(job_now->way, f, MAX_FRAMES);
		__asm__ volatile("" ::"r"(f) : "memory");
	}
	job_now->ns = (double)(now_ns() - t0) / job_now->stacks;
	job_now->frames = n;
	job_now->has_main = false;
	for (k = 0; k < n; k++)
		if ((uintptr_t)f[k] == in_main)
			job_now->has_main = true;
}

/* qsort calls it from libc, which has no frame pointers */
static int through_libc(const void *a, const void *b)
{
	leaf();
	return 0;
}

static __attribute__((noinline)) int chain(int depth, bool via_libc, bool top)
{
	int pair[2] = { 1, 2 };

	if (top)
		in_main = (uintptr_t)__builtin_return_address(0);
	if (depth > 0)
		return chain(depth - 1, via_libc, false) + 1;
	if (via_libc)
		qsort(pair, 2, sizeof(pair[0]), through_libc);
	else
		leaf();
	return 0;
}

int main(int argc, char **argv)
{
	pthread_attr_t attr;
	void *addr;
	size_t size;
	int depth = 10, opt, w, via;
	long stacks = 200000;

	while ((opt = getopt(argc, argv, "d:n:")) != -1) {
		if (opt == 'd')
			depth = atoi(optarg);
		else if (opt == 'n')
			stacks = atol(optarg);
		else {
			fprintf(stderr, "usage: unwind [-d DEPTH] [-n STACKS]\n");
			return 2;
		}
	}
	if (pthread_getattr_np(pthread_self(), &attr) ||
	    pthread_attr_getstack(&attr, &addr, &size)) {
		perror("pthread_getattr_np");
		return 1;
	}
	stack_lo = (uintptr_t)addr;
	stack_hi = stack_lo + size;
	glibc_backtrace = dlsym(dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD), "backtrace");
	if (!glibc_backtrace) {
		fprintf(stderr, "unwind: cannot find libc.so.6's backtrace\n");
		return 1;
	}
	for (via = 0; via < 2; via++) {
		for (w = 0; w < W_N; w++) {
			struct job j = { .way = w, .stacks = stacks / 20 };

			unw_set_caching_policy(unw_local_addr_space, w == W_LIBUNWIND_PT ?
									     UNW_CACHE_PER_THREAD :
									     UNW_CACHE_GLOBAL);

			job_now = &j; /* warm: libgcc loaded, libunwind's caches filled */
			chain(depth, via, true);
			j.stacks = stacks;
			chain(depth, via, true);
			printf("{\"path\":\"%s\",\"way\":\"%s\",\"depth\":%d,\"ns_per_stack\":%.1f,"
			       "\"frames\":%d,\"reaches_main\":%s}\n",
			       via ? "through qsort (libc, no frame pointers)" : "program frames",
			       way_name[w], depth, j.ns, j.frames, j.has_main ? "true" : "false");
		}
	}
	return 0;
}
