// build: -ljemalloc
/* signal_nested.c: signal handlers that allocate through another allocator while the main
 * thread's allocator calls are being recorded
 *
 * usage: signal_nested SIGNALS
 * Linked with jemalloc: malloc and free are jemalloc's; pvalloc, which jemalloc has not, is
 * the C library's. The main thread mallocs and frees blocks of LOOP_SIZE bytes (jemalloc's)
 * until a second thread has sent it SIGNALS signals (one at a time, each waited for), whose
 * handler allocates a block of SIG_SIZE bytes with pvalloc (the C library's: safe inside
 * jemalloc's calls) and keeps it. A signal can land anywhere in the main thread's calls,
 * inside an interposer's own work too (a handler's call inside an outer call of another
 * object is that call's nested call, its backing). Then prints one JSON line, written with
 * write(2), and exits:
 *   {"pid": PID, "loops": L, "signals": S, "loop_size": LOOP_SIZE, "sig_size": SIG_SIZE}
 * L mallocs and L frees of LOOP_SIZE bytes, S pvallocs of SIG_SIZE bytes, every one
 * recorded once, whichever of the records of its thread it interrupted.
 */
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOOP_SIZE 3000 /* size class [2048, 4096): nothing else of the program's */
#define SIG_SIZE 5000
#define MAX_SIGNALS 100000

static void *(*volatile malloc_fn)(size_t) = malloc;
static void (*volatile free_fn)(void *) = free;
static void *(*volatile pvalloc_fn)(size_t) = pvalloc;

static void *kept[MAX_SIGNALS];
static volatile unsigned long handled;
static pthread_t main_thread;
static unsigned long nsignals;

static void on_signal(int sig)
{
	unsigned long n = handled;

	kept[n] = pvalloc_fn(SIG_SIZE);
	__atomic_store_n(&handled, n + 1, __ATOMIC_RELEASE);
}

static void *sender(void *arg)
{
	unsigned long i;

	for (i = 0; i < nsignals; i++) {
		if (pthread_kill(main_thread, SIGUSR1))
			abort();
		while (__atomic_load_n(&handled, __ATOMIC_ACQUIRE) == i)
			sched_yield();
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	unsigned long loops = 0;
	pthread_t t;
	char line[200];
	int n;

	nsignals = argc > 1 ? strtoul(argv[1], NULL, 10) : 2000;
	if (nsignals > MAX_SIGNALS)
		nsignals = MAX_SIGNALS;
	main_thread = pthread_self();
	if (sigaction(SIGUSR1, &sa, NULL) || pthread_create(&t, NULL, sender, NULL))
		return 1;
	while (__atomic_load_n(&handled, __ATOMIC_ACQUIRE) < nsignals) {
		void *p = malloc_fn(LOOP_SIZE);

		if (!p)
			return 1;
		memset(p, 1, 16);
		free_fn(p);
		loops++;
	}
	pthread_join(t, NULL);
	for (unsigned long i = 0; i < nsignals; i++)
		if (!kept[i])
			return 1;
	n = snprintf(line, sizeof(line),
		     "{\"pid\": %d, \"loops\": %lu, \"signals\": %lu, \"loop_size\": %d, "
		     "\"sig_size\": %d}\n",
		     (int)getpid(), loops, nsignals, LOOP_SIZE, SIG_SIZE);
	return write(1, line, n) == n ? 0 : 1;
}
