/* numa_xfer.c: blocks allocated on one NUMA node and freed on another, for issue 6's test
 *
 * usage: numa_xfer [CPU_A [CPU_B [N [KEEP]]]]   (defaults 2 0 1000 100)
 *
 * Before the window, thread A is pinned to CPU_A and thread B to CPU_B (tests/vm: CPU 2 is
 * on node 1, CPU 0 on node 0); both wait at a barrier. Prints "ready <pid>", waits for
 * SIGUSR1, then, in the window:
 *   - A mallocs N blocks of BLK bytes and writes to each (so their pages are present);
 *   - A posix_memaligns two page-aligned blocks of REMOTE_SZ and UNTOUCHED_SZ bytes and
 *     writes to neither of them (see below);
 *   - A hands N - KEEP small blocks and the REMOTE_SZ block to B; B frees the first
 *     N - KEEP - N/3 of those (remote frees, made on CPU_B's node) and writes the first
 *     byte of the REMOTE_SZ block; A frees N/3 blocks itself (local frees); KEEP small
 *     blocks and the two aligned blocks stay live.
 * Every allocation happens before any free, so the peaks are exact. Then it prints two
 * lines, the ground truth of gt.h (gt_print, with peak_bytes) and a "numa" line:
 *   {"numa": {"cpu_a": C, "node_a": N, "cpu_b": C, "node_b": N,
 *             "a": {allocs, alloc_bytes, frees, freed_bytes, live_allocs, live_bytes,
 *                   peak_bytes},                   (calls made by A, blocks A allocated)
 *             "b": {frees, freed_bytes},           (calls made by B)
 *             "pages": {"small", "small_bytes", "small_on_a", "remote_bytes", "remote_node",
 *                       "untouched_bytes", "untouched_status"}}}
 * where the nodes are the kernel's (getcpu(2), what bpf_get_numa_node_id returns) and
 * "pages" is the workload's own move_pages(2) view of its live blocks after the window
 * (small_on_a: live small blocks whose first byte's page is on node_a; remote_node: the
 * node of the REMOTE_SZ block's first page; untouched_status: move_pages' status for the
 * UNTOUCHED_SZ block's first page, a negative errno when it is not present). It waits for
 * SIGUSR2 and exits with _exit: the threads never exit (a thread's exit makes glibc free its
 * tcache, which a tracer would see).
 *
 * Where the pages are, and why it is exact (default memory policy, first touch):
 *   - A calls no allocator function before the window, so glibc gives A its arena at A's
 *     first malloc, inside the window, while A is already pinned: a fresh mmap'd heap
 *     whose every page is first written by A (the arena header, the chunk headers, the
 *     blocks' first bytes), so it is on node_a. Had A allocated before it was pinned, or
 *     had it reused the arena of an earlier thread, a page could have been first touched
 *     on another node. B later writes into the blocks it frees (tcache and bin links), but
 *     their pages are already present. (The tests/vm script turns automatic NUMA
 *     balancing off so that nothing migrates them.)
 *   - REMOTE_SZ and UNTOUCHED_SZ are above the mmap threshold, so glibc maps each anew
 *     (_int_memalign over sysmalloc's mmap): the mapping starts at a page boundary Q with
 *     the chunk header at Q, so the 4096-aligned block is at Q + 4096 and its chunk header
 *     at Q + 4080: A (the allocating thread) writes only page Q. The block's own first page
 *     is first written by B (node_b) for REMOTE_SZ, and by nobody for UNTOUCHED_SZ (not
 *     present). THP is off for the process (prctl) so that no fault maps a huge page
 *     spanning Q and the block.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include "gt.h"

#define BLK 200
#define MAX_N 4096
#define ALIGN 4096
#define REMOTE_SZ ((size_t)256 << 10)
#define UNTOUCHED_SZ ((size_t)192 << 10)

static unsigned n_blocks, keep;
static int cpu_a, cpu_b;
static unsigned node_a, node_b;
static void *blocks[MAX_N];
static void *remote_blk, *untouched_blk;
static struct gt ga, gb; /* A's calls; B's calls */
static pthread_barrier_t setup_done, go, handed, window_done;

static void pin(int cpu, unsigned *node)
{
	cpu_set_t set;
	unsigned c = 0, nd = 0;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		gt_die("sched_setaffinity failed (no such CPU?)");
	if (syscall(SYS_getcpu, &c, &nd, NULL) || (int)c != cpu)
		gt_die("not running on the CPU it is pinned to");
	*node = nd;
}

static unsigned n_b(void) /* small blocks B frees */
{
	return n_blocks - keep - n_blocks / 3;
}

static void *thread_a(void *arg)
{
	unsigned i;
	void *p;

	/* no allocator call before the window: see the header */
	pin(cpu_a, &node_a);
	pthread_barrier_wait(&setup_done);
	pthread_barrier_wait(&go);
	for (i = 0; i < n_blocks; i++)
		if (!(blocks[i] = gt_malloc(&ga, BLK)))
			gt_die("malloc failed");
	/* the aligned blocks: counted as gt_posix_memalign does, but not written to */
	p = NULL;
	if (gt_posix_memalign_fn(&p, ALIGN, REMOTE_SZ))
		gt_die("posix_memalign failed");
	remote_blk = p;
	p = NULL;
	if (gt_posix_memalign_fn(&p, ALIGN, UNTOUCHED_SZ))
		gt_die("posix_memalign failed");
	untouched_blk = p;
	ga.by_func[GT_POSIX_MEMALIGN] += 2;
	gt_add(&ga, REMOTE_SZ);
	gt_add(&ga, UNTOUCHED_SZ);
	gt_peak(&ga, ga.live_bytes);
	if ((uintptr_t)remote_blk % ALIGN || (uintptr_t)untouched_blk % ALIGN)
		gt_die("posix_memalign: misaligned block");
	pthread_barrier_wait(&handed);
	/* local frees: the N/3 blocks after B's */
	for (i = n_b(); i < n_blocks - keep; i++)
		gt_free(&ga, blocks[i], BLK);
	pthread_barrier_wait(&window_done);
	for (;;)
		pause();
	return NULL;
}

static void *thread_b(void *arg)
{
	unsigned i;

	pin(cpu_b, &node_b);
	/* B's tcache and arena are set up here, before the window: B allocates nothing in it */
	gt_free_fn(gt_malloc_fn(1));
	pthread_barrier_wait(&setup_done);
	pthread_barrier_wait(&go);
	pthread_barrier_wait(&handed);
	for (i = 0; i < n_b(); i++)
		gt_free(&gb, blocks[i], BLK);
	*(volatile char *)remote_blk = 1; /* the first touch of its first page: on node_b */
	pthread_barrier_wait(&window_done);
	for (;;)
		pause();
	return NULL;
}

static void obj_field(struct gt_buf *b, const char *name, uint64_t v, int first)
{
	gt_puts(b, first ? "\"" : ", \"");
	gt_puts(b, name);
	gt_puts(b, "\": ");
	gt_putu(b, v);
}

static void obj_ifield(struct gt_buf *b, const char *name, int64_t v)
{
	gt_puts(b, ", \"");
	gt_puts(b, name);
	gt_puts(b, "\": ");
	if (v < 0) {
		gt_puts(b, "-");
		v = -v;
	}
	gt_putu(b, (uint64_t)v);
}

/* The workload's own view of where its live blocks' first pages are */
static void print_numa(void)
{
	static void *pages[MAX_N + 2];
	static int status[MAX_N + 2];
	static struct gt_buf b;
	unsigned i, n = 0, on_a = 0;
	uint64_t live_a = ga.live_allocs - gb.frees, live_a_bytes = ga.live_bytes - gb.freed_bytes;

	for (i = n_blocks - keep; i < n_blocks; i++)
		pages[n++] = (void *)((uintptr_t)blocks[i] & ~(uintptr_t)(ALIGN - 1));
	pages[n++] = remote_blk;
	pages[n++] = untouched_blk;
	if (syscall(SYS_move_pages, 0, n, pages, NULL, status, 0))
		gt_die("move_pages failed");
	for (i = 0; i < keep; i++)
		on_a += status[i] == (int)node_a;

	b.len = 0;
	gt_puts(&b, "{\"numa\": {");
	obj_field(&b, "cpu_a", (uint64_t)cpu_a, 1);
	obj_field(&b, "node_a", node_a, 0);
	obj_field(&b, "cpu_b", (uint64_t)cpu_b, 0);
	obj_field(&b, "node_b", node_b, 0);
	gt_puts(&b, ", \"a\": {");
	obj_field(&b, "allocs", ga.allocs, 1);
	obj_field(&b, "alloc_bytes", ga.alloc_bytes, 0);
	obj_field(&b, "frees", ga.frees, 0);
	obj_field(&b, "freed_bytes", ga.freed_bytes, 0);
	obj_field(&b, "live_allocs", live_a, 0);
	obj_field(&b, "live_bytes", live_a_bytes, 0);
	obj_field(&b, "peak_bytes", ga.peak_bytes, 0);
	gt_puts(&b, "}, \"b\": {");
	obj_field(&b, "frees", gb.frees, 1);
	obj_field(&b, "freed_bytes", gb.freed_bytes, 0);
	gt_puts(&b, "}, \"pages\": {");
	obj_field(&b, "small", keep, 1);
	obj_field(&b, "small_bytes", (uint64_t)keep * BLK, 0);
	obj_field(&b, "small_on_a", on_a, 0);
	obj_field(&b, "remote_bytes", REMOTE_SZ, 0);
	obj_ifield(&b, "remote_node", status[keep]);
	obj_field(&b, "untouched_bytes", UNTOUCHED_SZ, 0);
	obj_ifield(&b, "untouched_status", status[keep + 1]);
	gt_puts(&b, "}}}\n");
	gt_write(1, b.s, b.len);
}

int main(int argc, char **argv)
{
	pthread_t ta, tb;
	sigset_t set;
	struct gt g;

	cpu_a = (int)gt_arg(argc, argv, 1, 2);
	cpu_b = (int)gt_arg(argc, argv, 2, 0);
	n_blocks = (unsigned)gt_arg(argc, argv, 3, 1000);
	keep = (unsigned)gt_arg(argc, argv, 4, 100);
	if (n_blocks > MAX_N || keep > n_blocks - n_blocks / 3)
		gt_die("usage: numa_xfer [CPU_A [CPU_B [N (<= 4096) [KEEP (<= N - N/3)]]]]");
	/* no transparent huge pages: a page's node is its own first touch's (see the header) */
	if (prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0))
		gt_die("prctl(PR_SET_THP_DISABLE) failed");
	gt_block_signals(&set);
	pthread_barrier_init(&setup_done, NULL, 3);
	pthread_barrier_init(&go, NULL, 3);
	pthread_barrier_init(&handed, NULL, 2);
	pthread_barrier_init(&window_done, NULL, 3);
	if (pthread_create(&ta, NULL, thread_a, NULL) || pthread_create(&tb, NULL, thread_b, NULL))
		gt_die("pthread_create failed");
	pthread_barrier_wait(&setup_done);
	gt_ready();
	gt_wait_signal(SIGUSR1);
	pthread_barrier_wait(&go);
	pthread_barrier_wait(&window_done);

	/* every allocation came before every free: A's peak is all it allocated */
	if (ga.peak_bytes != ga.alloc_bytes)
		gt_die("A's peak is not all it allocated");
	memset(&g, 0, sizeof(g));
	gt_merge(&g, &ga);
	gt_merge(&g, &gb);
	g.peak_bytes = g.peak_alt = ga.peak_bytes;
	gt_print(&g, 1);
	print_numa();
	gt_wait_signal(SIGUSR2);
	_exit(0);
}
