/* workload.h: the timed-loop scaffolding shared by the bench workloads (pairs.c, mix.c) */
#ifndef BENCH_WORKLOAD_H
#define BENCH_WORKLOAD_H

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/*
 * A workload runs T threads of the same body. Each thread first warms up (untimed), then all
 * wait; with -r FILE the process writes its pid to FILE and waits for SIGUSR1 (the harness
 * attaches a tracer meanwhile); then every thread runs its body in batches until the main
 * thread raises `stop` after -d seconds. Each thread times itself: CLOCK_MONOTONIC for wall,
 * CLOCK_THREAD_CPUTIME_ID for the CPU the thread used (kernel time in probe traps included).
 *
 * The workload file defines:
 *   WL_NAME, WL_OP ("pair", "call"), struct wl_state,
 *   void wl_init(struct wl_state *), void wl_fini(struct wl_state *),
 *   uint64_t wl_batch(struct wl_state *)   one batch, returns the ops it did,
 *   uint64_t calls[] in wl_state (summed over threads, zeroed after the warm-up),
 *   void wl_counts(FILE *, const struct wl_state *)   the calls as extra JSON fields.
 */

/* Keep a pointer alive in GCC's eyes: without it, a malloc+free pair can be removed */
#define WL_USE(p) __asm__ volatile("" ::"r"(p) : "memory")

#define WL_MAX_THREADS 64
#define WL_WARMUP_BATCHES 2000

struct wl_thread {
	pthread_t tid;
	struct wl_state st;
	uint64_t ops;	  /* timed ops */
	uint64_t wall_ns; /* timed wall time */
	uint64_t cpu_ns;  /* timed thread CPU time */
};

static atomic_int wl_stop;
static pthread_barrier_t wl_ready, wl_go;

static uint64_t wl_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void *wl_thread_main(void *arg)
{
	struct wl_thread *t = arg;
	uint64_t w0, c0, ops = 0;
	int i;

	wl_init(&t->st);
	for (i = 0; i < WL_WARMUP_BATCHES; i++)
		wl_batch(&t->st);
	memset(&t->st.calls, 0, sizeof(t->st.calls));
	pthread_barrier_wait(&wl_ready);
	pthread_barrier_wait(&wl_go);
	w0 = wl_ns(CLOCK_MONOTONIC);
	c0 = wl_ns(CLOCK_THREAD_CPUTIME_ID);
	while (!atomic_load_explicit(&wl_stop, memory_order_relaxed))
		ops += wl_batch(&t->st);
	t->cpu_ns = wl_ns(CLOCK_THREAD_CPUTIME_ID) - c0;
	t->wall_ns = wl_ns(CLOCK_MONOTONIC) - w0;
	t->ops = ops;
	wl_fini(&t->st);
	return NULL;
}

static void wl_usage(void)
{
	fprintf(stderr,
		"usage: %s [-t THREADS] [-d SECS] [-r READYFILE] [-o OUTFILE]\n"
		"  -t THREADS   threads running the loop (default 1)\n"
		"  -d SECS      timed duration (default 1)\n"
		"  -r FILE      after warm-up write the pid to FILE and wait for SIGUSR1\n"
		"  -o FILE      write the JSON result to FILE (default stdout)\n",
		WL_NAME);
	exit(2);
}

/*
 * Whether the kernel mapped its uprobes area into this process: it does on the first return
 * probe or out-of-line single step that hits it. An untraced run that has it was probed by
 * some tracer (a tracer of every process finds the bench's private libc too).
 */
static int wl_uprobes_mapped(void)
{
	char line[512];
	FILE *m = fopen("/proc/self/maps", "r");
	int found = 0;

	if (!m)
		return -1;
	while (!found && fgets(line, sizeof(line), m))
		found = strstr(line, "[uprobes]") != NULL;
	fclose(m);
	return found;
}

static int wl_write_ready(const char *path)
{
	char tmp[4096];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	fprintf(f, "%d\n", (int)getpid());
	if (fclose(f))
		return -errno;
	return rename(tmp, path) ? -errno : 0;
}

static int wl_main(int argc, char **argv)
{
	static struct wl_thread th[WL_MAX_THREADS];
	const char *ready = NULL, *out = NULL;
	struct wl_state sum_st;
	uint64_t ops = 0, wall = 0, cpu = 0, w0, w1;
	double secs = 1.0;
	struct timespec d;
	int nthreads = 1, i, c, sig;
	sigset_t set;
	FILE *f;

	while ((c = getopt(argc, argv, "t:d:r:o:h")) != -1) {
		switch (c) {
		case 't':
			nthreads = atoi(optarg);
			break;
		case 'd':
			secs = atof(optarg);
			break;
		case 'r':
			ready = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		default:
			wl_usage();
		}
	}
	if (nthreads < 1 || nthreads > WL_MAX_THREADS || secs <= 0)
		wl_usage();

	/* the go signal is taken by sigwait: block it before any thread exists */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	pthread_barrier_init(&wl_ready, NULL, nthreads + 1);
	pthread_barrier_init(&wl_go, NULL, nthreads + 1);
	for (i = 0; i < nthreads; i++)
		if (pthread_create(&th[i].tid, NULL, wl_thread_main, &th[i])) {
			fprintf(stderr, "%s: cannot create a thread\n", WL_NAME);
			return 1;
		}
	pthread_barrier_wait(&wl_ready);
	if (ready) {
		if (wl_write_ready(ready)) {
			fprintf(stderr, "%s: cannot write %s: %s\n", WL_NAME, ready, strerror(errno));
			return 1;
		}
		if (sigwait(&set, &sig)) {
			fprintf(stderr, "%s: sigwait failed\n", WL_NAME);
			return 1;
		}
	}
	w0 = wl_ns(CLOCK_MONOTONIC);
	pthread_barrier_wait(&wl_go);
	d.tv_sec = (time_t)secs;
	d.tv_nsec = (long)((secs - (double)d.tv_sec) * 1e9);
	while (nanosleep(&d, &d) && errno == EINTR)
		;
	atomic_store(&wl_stop, 1);
	for (i = 0; i < nthreads; i++)
		pthread_join(th[i].tid, NULL);
	w1 = wl_ns(CLOCK_MONOTONIC);

	memset(&sum_st, 0, sizeof(sum_st));
	for (i = 0; i < nthreads; i++) {
		ops += th[i].ops;
		wall += th[i].wall_ns;
		cpu += th[i].cpu_ns;
		for (c = 0; c < (int)(sizeof(sum_st.calls) / sizeof(sum_st.calls[0])); c++)
			sum_st.calls[c] += th[i].st.calls[c];
	}
	f = out ? fopen(out, "w") : stdout;
	if (!f) {
		fprintf(stderr, "%s: cannot open %s: %s\n", WL_NAME, out, strerror(errno));
		return 1;
	}
	/* wall and cpu per op: summed over threads, divided by the ops of all threads */
	fprintf(f,
		"{\"workload\":\"%s\",\"pid\":%d,\"threads\":%d,\"duration_s\":%.3f,"
		"\"op\":\"%s\",\"ops\":%llu,\"elapsed_ns\":%llu,\"wall_ns\":%llu,\"cpu_ns\":%llu,"
		"\"wall_ns_per_op\":%.3f,\"cpu_ns_per_op\":%.3f",
		WL_NAME, (int)getpid(), nthreads, secs, WL_OP, (unsigned long long)ops,
		(unsigned long long)(w1 - w0), (unsigned long long)wall, (unsigned long long)cpu,
		ops ? (double)wall / ops : 0.0, ops ? (double)cpu / ops : 0.0);
	wl_counts(f, &sum_st);
	fprintf(f, ",\"uprobes_mapped\":%d}\n", wl_uprobes_mapped());
	if (f != stdout && fclose(f))
		return 1;
	return 0;
}

#endif
