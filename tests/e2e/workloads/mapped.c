/* mapped.c: the gated mix in a process whose mapped files a tracer must not trust by name
 *
 * usage: mapped [-x] [-2] [FILE...]
 * Maps each FILE executable (PROT_READ | PROT_EXEC, the whole file, never touched); with
 * -x, replaces its own executable by a FIFO (unlinked, then a FIFO made at its path: the
 * path names a FIFO, the mapping still the program). Prints "ready <pid>", waits for
 * SIGUSR1, runs the mix (mix.h) and keeps 8 chunks of 2 KiB from one call site
 * (keep_chunk: a pool candidate), prints the ground truth, waits for SIGUSR2 and exits.
 * With -2, a second window before that: after the first ground truth it waits for SIGUSR1
 * again, keeps 8 chunks of 3 KiB from another call site (late_chunk) and prints the ground
 * truth again (both windows). Nothing is allocated outside the windows.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include "mix.h"

#define ITERS 40
#define CHUNKS 8
#define CHUNK 2048
#define LATE_CHUNK 3072

static struct blk keep[ITERS / 4 + 1], chunks[CHUNKS], late[CHUNKS];

__attribute__((noinline)) static void keep_chunk(struct gt *g, struct blk *b)
{
	b->p = gt_malloc(g, b->n = CHUNK);
}

__attribute__((noinline)) static void late_chunk(struct gt *g, struct blk *b)
{
	b->p = gt_malloc(g, b->n = LATE_CHUNK);
}

static void map_file(const char *path)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) || !st.st_size)
		gt_die("mapped: cannot open a file to map");
	if (mmap(NULL, st.st_size, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0) == MAP_FAILED)
		gt_die("mapped: cannot map a file executable");
	close(fd);
}

/* Unlinks the executable and puts a FIFO at its path */
static void exe_to_fifo(void)
{
	static char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);

	if (n <= 0)
		gt_die("mapped: no /proc/self/exe");
	path[n] = '\0';
	if (unlink(path) || mkfifo(path, 0644))
		gt_die("mapped: cannot replace the executable by a FIFO");
}

int main(int argc, char **argv)
{
	static struct gt g;
	sigset_t set;
	bool two = false;
	int i = 1;

	if (i < argc && !strcmp(argv[i], "-x")) {
		exe_to_fifo();
		i++;
	}
	if (i < argc && !strcmp(argv[i], "-2")) {
		two = true;
		i++;
	}
	for (; i < argc; i++)
		map_file(argv[i]);
	gt_block_signals(&set);
	gt_ready();
	gt_wait_signal(SIGUSR1);
	mix_run(&g, ITERS, keep);
	for (i = 0; i < CHUNKS; i++)
		keep_chunk(&g, &chunks[i]);
	gt_print(&g, 1);
	if (two) {
		gt_wait_signal(SIGUSR1);
		for (i = 0; i < CHUNKS; i++)
			late_chunk(&g, &late[i]);
		gt_print(&g, 1);
	}
	gt_wait_signal(SIGUSR2);
	return 0;
}
