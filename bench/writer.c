/* writer.c: what the in-process source's writer costs a call apart from the daemon's
 * statistics: a COMMAND (a bench workload) runs with libmemscope-preload.so preloaded and a
 * region of its own (user/inproc.c, as memscope-bpf makes it), and a reader that is only:
 *
 *   skip   moves each ring's tail to its head without reading a record: the writer's own
 *          work (the interposer, its TSC reads, its 64-byte stores), the ring never full
 *   read   reads every record as the daemon does (copied out, named, its TSC made
 *          CLOCK_MONOTONIC) and drops it: the writer and the transport to another CPU
 *
 * each at the daemon's pace (user/main.c): a look every millisecond, at once again after
 * one that found MS_INPROC_AGAIN records or more.
 *
 * and, apart, what one TSC read costs here (two a malloc+free pair). The workload prints
 * its own figures (-o); this prints one JSON line: mode, records read, the TSC read's ns.
 * The floor under in-process block mode's cost, below which no daemon can bring it.
 *
 * usage: writer -l LIBRARY -m skip|read -- COMMAND [ARG...]
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>
#include "inproc.h"
#include "memscope_shm.h"

#define TSC_READS 4000000

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* ns a TSC read, back to back (the best of three runs) */
static double tsc_read_ns(void)
{
	double best = 1e9;
	volatile uint64_t sink = 0;
	int run, i;

	for (run = 0; run < 3; run++) {
		uint64_t t0 = now_ns(), ns;

		for (i = 0; i < TSC_READS; i++)
			sink += __rdtsc();
		ns = now_ns() - t0;
		if ((double)ns / TSC_READS < best)
			best = (double)ns / TSC_READS;
	}
	(void)sink;
	return best;
}

static unsigned any_func(void *ctx, const char *path, uint64_t file_off)
{
	return 1; /* named: read as the daemon reads it */
}

static void drop(void *ctx, int q, const struct ms_event *v, size_t n)
{
	*(uint64_t *)ctx += n;
}

static void no_quiet(void *ctx, int q, uint64_t ts)
{
}

/* The region's rings, as the writers see them (the header's layout, memscope_shm.h) */
static struct ms_shm_ring *rings_of(const char *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	void *p;

	if (fd < 0)
		return NULL;
	p = mmap(NULL, MS_SHM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	return p == MAP_FAILED ? NULL : (struct ms_shm_ring *)((char *)p + MS_SHM_RINGS_OFFSET);
}

int main(int argc, char **argv)
{
	const char *lib = NULL, *mode = NULL;
	struct ms_shm_ring *rings = NULL;
	struct ms_inproc *ip;
	uint64_t records = 0;
	int opt, go[2], status;
	bool skip;
	pid_t pid;
	char c;

	while ((opt = getopt(argc, argv, "l:m:")) != -1) {
		if (opt == 'l')
			lib = optarg;
		else if (opt == 'm')
			mode = optarg;
		else
			break;
	}
	if (!lib || !mode || (strcmp(mode, "skip") && strcmp(mode, "read")) || optind >= argc) {
		fprintf(stderr, "usage: writer -l LIBRARY -m skip|read -- COMMAND [ARG...]\n");
		return 2;
	}
	skip = !strcmp(mode, "skip");
	ip = ms_inproc_new("/dev/shm");
	if (!ip) {
		fprintf(stderr, "writer: cannot make the region: %s\n", strerror(errno));
		return 1;
	}
	ms_inproc_set_block(ip, true);
	if (skip && !(rings = rings_of(ms_inproc_path(ip)))) {
		fprintf(stderr, "writer: cannot map the region: %s\n", strerror(errno));
		return 1;
	}
	if (pipe(go)) {
		perror("writer: pipe");
		return 1;
	}
	pid = fork();
	if (pid < 0) {
		perror("writer: fork");
		return 1;
	}
	if (!pid) { /* the command, once it is the region's process */
		close(go[1]);
		if (read(go[0], &c, 1) != 1)
			_exit(127);
		setenv("LD_PRELOAD", lib, 1);
		setenv(MS_SHM_ENV, ms_inproc_path(ip), 1);
		execvp(argv[optind], argv + optind);
		perror("writer: exec");
		_exit(127);
	}
	close(go[0]);
	ms_inproc_set_root(ip, pid, false);
	if (write(go[1], "g", 1) != 1) {
		perror("writer: write");
		kill(pid, SIGKILL);
	}
	close(go[1]);
	while (waitpid(pid, &status, WNOHANG) == 0) {
		uint64_t before = records;

		if (skip) {
			unsigned q;

			for (q = 0; q < MS_SHM_RINGS; q++) {
				uint64_t head = __atomic_load_n(&rings[q].head, __ATOMIC_ACQUIRE);

				if (head != __atomic_load_n(&rings[q].tail, __ATOMIC_RELAXED)) {
					records += head - rings[q].tail;
					ms_inproc_set_tail(&rings[q], head);
				}
			}
		} else {
			const struct ms_inproc_fns fns = { any_func, drop, no_quiet, &records };

			ms_inproc_read(ip, &fns);
		}
		if (records - before < MS_INPROC_AGAIN)
			nanosleep(&(struct timespec){ 0, 1000 * 1000 }, NULL);
	}
	printf("{\"mode\":\"%s\",\"records\":%llu,\"tsc_read_ns\":%.2f,\"status\":%d}\n", mode,
	       (unsigned long long)records, tsc_read_ns(),
	       WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	ms_inproc_free(ip);
	return WIFEXITED(status) && !WEXITSTATUS(status) ? 0 : 1;
}
