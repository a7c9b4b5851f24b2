/* thread_churn.c: threads that start, allocate and end, round after round: with --stacks
 * in-process each thread's first walk makes libunwind's caches (the thread's dynamic TLS,
 * freed by glibc when the thread ends), which the figures must not show
 *
 * usage: thread_churn ROUNDS THREADS PAIRS [together]
 * Each round starts THREADS threads that make PAIRS malloc+free pairs each and joins them;
 * then prints "done" and exits. together: in their first pair the threads of a round wait,
 * their block allocated, until every one has allocated its own (all of them alive at once,
 * as many in-process rings held: past the rings, a thread is not recorded and none waits
 * for a ring, since nothing would free one before the wait ends).
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned long pairs;
static bool together;
static pthread_barrier_t all_in;

static void *body(void *arg)
{
	unsigned long i;

	for (i = 0; i < pairs; i++) {
		void *p = malloc(32 + i % 64);

		__asm__ volatile("" ::"r"(p) : "memory");
		if (together && i == 0)
			pthread_barrier_wait(&all_in);
		free(p);
	}
	return arg;
}

int main(int argc, char **argv)
{
	unsigned long rounds, threads, r, t;
	pthread_t *tid;

	if (argc < 4 || argc > 5 || (argc == 5 && strcmp(argv[4], "together"))) {
		fprintf(stderr, "usage: thread_churn ROUNDS THREADS PAIRS [together]\n");
		return 2;
	}
	rounds = strtoul(argv[1], NULL, 0);
	threads = strtoul(argv[2], NULL, 0);
	pairs = strtoul(argv[3], NULL, 0);
	together = argc == 5;
	tid = calloc(threads, sizeof(*tid));
	if (!tid || (together && pthread_barrier_init(&all_in, NULL, (unsigned)threads)))
		return 1;
	for (r = 0; r < rounds; r++) {
		for (t = 0; t < threads; t++)
			if (pthread_create(&tid[t], NULL, body, NULL))
				return 1;
		for (t = 0; t < threads; t++)
			pthread_join(tid[t], NULL);
	}
	free(tid);
	printf("done\n");
	return 0;
}
