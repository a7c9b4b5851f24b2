/* rate.c: malloc+free pairs at a steady, known rate
 *
 * usage: rate [RATE [SIZE [MAX_SECS]]]  (default 2000 pairs a second, 100 bytes, 120 s)
 * Prints "ready <pid>", waits for SIGUSR1, then makes one malloc(SIZE)+free pair every
 * 1/RATE s, paced on absolute CLOCK_MONOTONIC deadlines (clock_nanosleep with
 * TIMER_ABSTIME: a late pair is made up at once, so that the rate over any stretch of
 * a second or more stays RATE however the process is scheduled), until SIGUSR2 or
 * MAX_SECS. Then prints one JSON line, {"pid", "pairs", "elapsed_ns", "size"}: the pairs
 * made and the time from the first pair to the last, and exits.
 */
#include <time.h>
#include "gt.h"

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	static struct gt_buf b;
	unsigned long rate = gt_arg(argc, argv, 1, 2000), size = gt_arg(argc, argv, 2, 100);
	unsigned long max_secs = gt_arg(argc, argv, 3, 120);
	uint64_t step, start, next, last = 0, pairs = 0;
	sigset_t set, pending;
	struct timespec ts;

	if (rate < 1 || rate > 1000000 || size < 1)
		gt_die("usage: rate [RATE(1-1000000) [SIZE(>0) [MAX_SECS]]]");
	step = 1000000000ull / rate;
	gt_block_signals(&set);
	gt_ready();
	gt_wait_signal(SIGUSR1);

	start = next = mono_ns();
	for (;;) {
		void *p;

		ts.tv_sec = (time_t)(next / 1000000000ull);
		ts.tv_nsec = (long)(next % 1000000000ull);
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL))
			; /* EINTR */
		p = gt_malloc_fn(size);
		if (!p)
			gt_die("malloc failed");
		gt_touch(p, size);
		gt_free_fn(p);
		pairs++;
		last = mono_ns();
		next += step;
		if (sigpending(&pending))
			gt_die("sigpending failed");
		if (sigismember(&pending, SIGUSR2) || last - start >= max_secs * 1000000000ull)
			break;
	}
	b.len = 0;
	gt_puts(&b, "{\"pid\": ");
	gt_putu(&b, (uint64_t)getpid());
	gt_field(&b, "pairs", pairs);
	gt_field(&b, "elapsed_ns", last - start);
	gt_field(&b, "size", size);
	gt_puts(&b, "}\n");
	gt_write(1, b.s, b.len);
	return 0;
}
