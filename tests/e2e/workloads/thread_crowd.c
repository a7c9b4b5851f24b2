/* thread_crowd.c: more threads alive at once than the in-process rings (256): each
 * allocates a block, waits until every thread has, then frees it. The threads past the
 * rings are not recorded (lost, counted); none waits for a ring, even with the daemon's
 * block: nothing would free one before the barrier.
 *
 * usage: thread_crowd THREADS
 * Prints "done" and exits.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static pthread_barrier_t all_in;

static void *body(void *arg)
{
	void *p = malloc(100);

	__asm__ volatile("" ::"r"(p) : "memory");
	pthread_barrier_wait(&all_in);
	free(p);
	return arg;
}

int main(int argc, char **argv)
{
	unsigned long threads, t;
	pthread_t *tid;

	if (argc != 2) {
		fprintf(stderr, "usage: thread_crowd THREADS\n");
		return 2;
	}
	threads = strtoul(argv[1], NULL, 0);
	tid = calloc(threads, sizeof(*tid));
	if (!tid || pthread_barrier_init(&all_in, NULL, (unsigned)threads))
		return 1;
	for (t = 0; t < threads; t++)
		if (pthread_create(&tid[t], NULL, body, NULL))
			return 1;
	for (t = 0; t < threads; t++)
		pthread_join(tid[t], NULL);
	free(tid);
	printf("done\n");
	return 0;
}
