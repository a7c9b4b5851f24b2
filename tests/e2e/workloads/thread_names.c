/* thread_names.c: the last thread to run and exit has a name of its own
 *
 * usage: thread_names [gated]
 * The main thread (comm "thread_names", the thread-group leader) makes MAIN_PAIRS
 * malloc+free pairs, starts a thread that names itself "bg_flusher"
 * (pthread_setname_np) and ends with pthread_exit. The thread waits until the main
 * thread has exited (pthread_join on it), makes BG_PAIRS pairs, prints one JSON line,
 * {"pid", "main_pairs", "bg_pairs", "thread": "bg_flusher"}, and returns: the process
 * exits with it, status 0. So every call after the main thread's exit, and the exit
 * itself, come from a thread whose comm is "bg_flusher"; the process is still named
 * after its leader, "thread_names" (/proc/PID/comm).
 * gated: first prints "ready <pid>" and waits for SIGUSR1 (for -p).
 */
#define _GNU_SOURCE /* pthread_setname_np */
#include "gt.h"

#define MAIN_PAIRS 50
#define BG_PAIRS 200

static pthread_t main_thread;

static void pairs(unsigned n, size_t size)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		void *p = gt_malloc_fn(size + i);

		gt_touch(p, size + i);
		gt_free_fn(p);
	}
}

static void *bg_flusher(void *arg)
{
	static struct gt_buf b;

	if (pthread_setname_np(pthread_self(), "bg_flusher"))
		gt_die("pthread_setname_np failed");
	if (pthread_join(main_thread, NULL))
		gt_die("cannot join the main thread");
	pairs(BG_PAIRS, 48);
	b.len = 0;
	gt_puts(&b, "{\"pid\": ");
	gt_putu(&b, (uint64_t)getpid());
	gt_field(&b, "main_pairs", MAIN_PAIRS);
	gt_field(&b, "bg_pairs", BG_PAIRS);
	gt_puts(&b, ", \"thread\": \"bg_flusher\"}\n");
	gt_write(1, b.s, b.len);
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t;
	sigset_t set;

	gt_block_signals(&set);
	if (argc > 1) {
		if (strcmp(argv[1], "gated"))
			gt_die("usage: thread_names [gated]");
		gt_ready();
		gt_wait_signal(SIGUSR1);
	}
	main_thread = pthread_self();
	pairs(MAIN_PAIRS, 24);
	if (pthread_create(&t, NULL, bg_flusher, NULL))
		gt_die("pthread_create failed");
	pthread_exit(NULL);
}
