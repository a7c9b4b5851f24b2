/* leaks_three_sites.c: three call sites leaking known amounts at known rates, a cache that
 * levels off, and short-lived churn; for --stacks, the leak report and --folded
 *
 * usage: leaks_three_sites            run from its first instruction (launched), exit
 *        leaks_three_sites gated      "ready <pid>", SIGUSR1, the old phase at 20 ms a
 *                                     tick, the ground truth, SIGUSR2, exit (for -p)
 *
 * Every site is its own noinline function calling malloc itself (through gt.h's volatile
 * pointer, so GCC can neither drop nor move the call), so the caller of each allocation,
 * the first frame of its site, is that function; each is called from tick(), called from
 * main: the expected stack is SITE, tick, main, ... The line of each malloc call carries
 * a "SITE:<name>" marker, the line of each call in tick() and main a "CALL:<name>" one:
 * run.py reads them for the expected file:line of each frame.
 *
 *   leak_small   10 blocks of   64 B every tick        (640 B per tick)
 *   leak_big      1 block  of 1500 B every tick        (1500 B per tick)
 *   leak_triple   3 blocks of  300 B every other tick  (900 B per two ticks)
 *   cache_fill   16 blocks of  512 B in each of ticks 0-3, then never again (32 KiB)
 *   churn        20 blocks of   48 B each tick, each freed at once (never live)
 *
 * Launched, a tick is 100 ms on an absolute schedule from the start (clock_nanosleep
 * TIMER_ABSTIME: no drift), in three phases:
 *
 *   ticks  0-15  (0.0-1.5 s)  old:   the three leak sites leak; the cache fills (0.0-0.3 s)
 *   ticks 16-26  (1.6-2.6 s)  pause: the leak sites allocate nothing (churn goes on)
 *   ticks 27-31  (2.7-3.1 s)  young: the leak sites leak again; exit right after tick 31
 *
 * Why, under `--stacks --min-age 1 -i 0.25`:
 *  - Exact leak figures. The exit leak report counts blocks allocated more than 1 s before
 *    the report, which comes a moment (d) after the exit at ~3.1 s: its cut is at
 *    ~2.1 s + d. Every old block (<= 1.5 s) is before it and every young block (>= 2.7 s)
 *    after it as long as -0.6 s < d < 0.6 s, so each site's blocks and bytes are exactly
 *    its old ones. run.py checks the cut against the timestamps printed here.
 *  - Growing leak sites at the exit. The trend looks at the last four samples of a site's
 *    live bytes (one per interval report, 0.25 s, and one at the final report). Over the
 *    young phase (0.4 s, a tick every 0.1 s, up to the exit) at most one sample can follow
 *    the last tick, so the last three samples are never all equal (leveled) and the last
 *    one is above the first kept one: growing. The old phase (1.5 s) also leaves >= 5
 *    strictly increasing samples in the history (run.py checks 4).
 *  - A leveled cache. Full at 0.3 s, unchanged for the 2.8 s after: >= 10 equal samples.
 *  - Churn: its blocks live a few nanoseconds; no leak entry.
 *  - Peak contributions. Each tick runs churn first, then the cache and the leak sites, so
 *    the process' last peak is right after its last allocation (leak_big's, tick 31): at
 *    that peak every site holds all its live bytes and churn none.
 *
 * Prints one JSON line before exiting (write(2), nothing allocates but the sites):
 * {"pid", "t_first", "old_end", "young_start", "end" (CLOCK_MONOTONIC ns, the clock of
 * the tracer's timestamps), "live_allocs", "live_bytes", "allocs", "alloc_bytes",
 * "sites": {name: {"old_blocks", "old_bytes", "allocs", "alloc_bytes", "frees",
 * "live_allocs", "live_bytes"}}}. Gated, the same line (old phase only) before SIGUSR2.
 */
#include <time.h>
#include "gt.h"

#define TICK_NS 100000000ull
#define GATED_TICK_NS 20000000ull
#define OLD_TICKS 16
#define YOUNG_FIRST 27
#define LAST_TICK 31
#define CACHE_TICKS 4
#define CACHE_PER_TICK 16
#define CHURN_PER_TICK 20

enum { S_SMALL, S_BIG, S_TRIPLE, S_CACHE, S_CHURN, NSITES };

static const char *const site_name[NSITES] = { "leak_small", "leak_big", "leak_triple",
					       "cache_fill", "churn" };

struct site_gt {
	uint64_t old_blocks, old_bytes, allocs, alloc_bytes, frees, live_allocs, live_bytes;
};

static struct site_gt sgt[NSITES];
static int in_old_phase;

#define MAX_KEEP 4096
void *keep[MAX_KEEP]; /* every leaked block: read at the end */
static unsigned nkeep;

static void count(unsigned s, void *p, size_t n)
{
	if (!p)
		gt_die("malloc failed");
	gt_touch(p, n);
	sgt[s].allocs++;
	sgt[s].alloc_bytes += n;
	sgt[s].live_allocs++;
	sgt[s].live_bytes += n;
	if (in_old_phase) {
		sgt[s].old_blocks++;
		sgt[s].old_bytes += n;
	}
	if (nkeep == MAX_KEEP)
		gt_die("keep[] is full");
	keep[nkeep++] = p;
}

/* What each site allocates in the current tick: volatile, so that GCC cannot thread
 * jumps through tick() and duplicate a call (a second call instruction would be a second
 * site, with its own stack) */
static volatile unsigned plan[NSITES];

__attribute__((noinline)) void leak_small(void)
{
	for (unsigned i = 0; i < plan[S_SMALL]; i++) {
		void *p = gt_malloc_fn(64); /* SITE:leak_small */

		count(S_SMALL, p, 64);
	}
}

__attribute__((noinline)) void leak_big(void)
{
	for (unsigned i = 0; i < plan[S_BIG]; i++) {
		void *p = gt_malloc_fn(1500); /* SITE:leak_big */

		count(S_BIG, p, 1500);
	}
}

__attribute__((noinline)) void leak_triple(void)
{
	for (unsigned i = 0; i < plan[S_TRIPLE]; i++) {
		void *p = gt_malloc_fn(300); /* SITE:leak_triple */

		count(S_TRIPLE, p, 300);
	}
}

__attribute__((noinline)) void cache_fill(void)
{
	for (unsigned i = 0; i < plan[S_CACHE]; i++) {
		void *p = gt_malloc_fn(512); /* SITE:cache_fill */

		count(S_CACHE, p, 512);
	}
}

__attribute__((noinline)) void churn(void)
{
	for (unsigned i = 0; i < plan[S_CHURN]; i++) {
		void *p = gt_malloc_fn(48); /* SITE:churn */

		if (!p)
			gt_die("malloc failed");
		gt_touch(p, 48);
		gt_free_fn(p);
		sgt[S_CHURN].allocs++;
		sgt[S_CHURN].alloc_bytes += 48;
		sgt[S_CHURN].frees++;
	}
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The phase boundaries (CLOCK_MONOTONIC ns) */
static uint64_t t_first, old_end, young_start, end;

/* Tick k's plan, and the timestamps due before it */
__attribute__((noinline)) void plan_tick(unsigned k)
{
	int leak = k < OLD_TICKS || k >= YOUNG_FIRST;

	in_old_phase = k < OLD_TICKS;
	if (k == 0)
		t_first = now_ns();
	if (k == YOUNG_FIRST)
		young_start = now_ns();
	plan[S_CHURN] = CHURN_PER_TICK;
	plan[S_CACHE] = k < CACHE_TICKS ? CACHE_PER_TICK : 0;
	plan[S_SMALL] = leak ? 10 : 0;
	plan[S_TRIPLE] = leak && k % 2 == 0 ? 3 : 0;
	plan[S_BIG] = leak ? 1 : 0;
}

/* The timestamps due after tick k */
__attribute__((noinline)) void tick_done(unsigned k)
{
	if (k == OLD_TICKS - 1)
		old_end = now_ns();
	if (k == LAST_TICK)
		end = now_ns();
}

/* One tick, straight-line: one call of each site. Churn first, so that the process'
 * last peak follows the last leak (leak_big's). */
__attribute__((noinline)) void tick(unsigned k)
{
	plan_tick(k);
	churn();       /* CALL:churn */
	cache_fill();  /* CALL:cache_fill */
	leak_small();  /* CALL:leak_small */
	leak_triple(); /* CALL:leak_triple */
	leak_big();    /* CALL:leak_big */
	tick_done(k);
}

static void sleep_until(uint64_t t)
{
	struct timespec ts = { (time_t)(t / 1000000000ull), (long)(t % 1000000000ull) };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static void print_truth(void)
{
	static struct gt_buf b;
	uint64_t live_allocs = 0, live_bytes = 0, allocs = 0, alloc_bytes = 0;
	volatile unsigned sink = 0;
	unsigned s, i;

	for (i = 0; i < nkeep; i++) /* the kept blocks are read: none could be dropped */
		sink += *(volatile unsigned char *)keep[i];
	(void)sink;
	for (s = 0; s < NSITES; s++) {
		live_allocs += sgt[s].live_allocs;
		live_bytes += sgt[s].live_bytes;
		allocs += sgt[s].allocs;
		alloc_bytes += sgt[s].alloc_bytes;
	}
	b.len = 0;
	gt_puts(&b, "{\"pid\": ");
	gt_putu(&b, (uint64_t)getpid());
	gt_field(&b, "t_first", t_first);
	gt_field(&b, "old_end", old_end);
	gt_field(&b, "young_start", young_start);
	gt_field(&b, "end", end);
	gt_field(&b, "live_allocs", live_allocs);
	gt_field(&b, "live_bytes", live_bytes);
	gt_field(&b, "allocs", allocs);
	gt_field(&b, "alloc_bytes", alloc_bytes);
	gt_puts(&b, ", \"sites\": {");
	for (s = 0; s < NSITES; s++) {
		gt_puts(&b, s ? ", \"" : "\"");
		gt_puts(&b, site_name[s]);
		gt_puts(&b, "\": {\"name\": \"");
		gt_puts(&b, site_name[s]);
		gt_puts(&b, "\"");
		gt_field(&b, "old_blocks", sgt[s].old_blocks);
		gt_field(&b, "old_bytes", sgt[s].old_bytes);
		gt_field(&b, "allocs", sgt[s].allocs);
		gt_field(&b, "alloc_bytes", sgt[s].alloc_bytes);
		gt_field(&b, "frees", sgt[s].frees);
		gt_field(&b, "live_allocs", sgt[s].live_allocs);
		gt_field(&b, "live_bytes", sgt[s].live_bytes);
		gt_puts(&b, "}");
	}
	gt_puts(&b, "}}\n");
	gt_write(1, b.s, b.len);
}

int main(int argc, char **argv)
{
	int gated = argc > 1 && !strcmp(argv[1], "gated");
	uint64_t tick_ns = gated ? GATED_TICK_NS : TICK_NS, t0;
	unsigned k, last = gated ? OLD_TICKS - 1 : LAST_TICK;
	sigset_t set;

	if (argc > 2 || (argc == 2 && !gated))
		gt_die("usage: leaks_three_sites [gated]");
	if (gated) {
		gt_block_signals(&set);
		gt_ready();
		gt_wait_signal(SIGUSR1);
	}
	/* one loop, one call of tick(): every tick's allocations share their stacks */
	t0 = now_ns();
	for (k = 0; k <= last; k++) {
		sleep_until(t0 + k * tick_ns);
		tick(k); /* CALL:tick */
	}
	if (gated)
		end = old_end;
	print_truth();
	if (gated)
		gt_wait_signal(SIGUSR2);
	return 0;
}
