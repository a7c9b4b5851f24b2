/* shim.c: the in-process libraries' shared part, linked into libmemscope-preload.so (its one
 * copy): the real functions' look-up, the shared region, each thread's ring and the records
 * written into it, nesting, the process' registration (shim.h).
 *
 * The fast path takes no lock, makes no system call and allocates nothing: a TSC read (the
 * daemon turns it into CLOCK_MONOTONIC), a CPU number from glibc's rseq area, one store
 * of 64 bytes, the release store of head and the ring's busy mark around them, a prefetch
 * of a line further on for writing. A signal handler's record made while its thread writes
 * one waits in the thread's own queue and goes in after it (put_later). A full ring counts
 * the record as lost, or with the daemon's block the thread sleeps until the daemon has read
 * half of it (wait_room); a daemon that is gone leaves the rings full: the program runs on,
 * untraced. Without the region (no MEMSCOPE_SHM, a bad one), calls are forwarded and nothing
 * else.
 *
 * --stacks: an allocation's record (ALLOC, REALLOC, outermost calls, in the sample of
 * --sample-bytes) names its stack in the region's stack table (stacktab.c), walked here
 * by libunwind (loaded at the library's start, local to it); what the walk calls of the
 * interposed functions is forwarded and not recorded. */
#define UNW_LOCAL_ONLY
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <linux/futex.h>
#include <link.h>
#include <stdio.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/rseq.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <cpuid.h>
#include <x86intrin.h>
#include <libunwind.h>
#include "shim.h"
#include "stacktab.h"

#define MS_STR(x) #x
#define MS_XSTR(x) MS_STR(x)

/* The region this library is built for, by name: what the daemon looks for before it
 * preloads the library (memscope_shm.h) */
MS_EXPORT void MS_SHM_MARK(void)
{
}

/* ---------------------------------------------------------------- bootstrap blocks */

/* Before the real functions are known (dlsym may allocate while they are looked up), blocks
 * come from here; each has its size in the 16 bytes before it. They are never freed. */
static char boot[256 * 1024] __attribute__((aligned(16)));
static size_t boot_used;

void *ms_shim_boot_alloc(size_t size)
{
	size_t need = (size + 15) / 16 * 16 + 16, at;

	at = __atomic_fetch_add(&boot_used, need, __ATOMIC_RELAXED);
	if (at + need > sizeof(boot))
		return NULL;
	*(size_t *)(boot + at) = size;
	return boot + at + 16;
}

bool ms_shim_in_boot(const void *p)
{
	return (const char *)p >= boot && (const char *)p < boot + sizeof(boot);
}

/* ---------------------------------------------------------------- the shared region */

enum { ST_NONE, ST_INIT, ST_ON, ST_OFF };

static int state = ST_NONE;
static struct ms_shm_header *shm;
static struct ms_shm_ring *rings;
static void *stack_table;	    /* --stacks: the stack table, mapped apart; NULL without */
static struct ms_shm_stacks stacks; /* its shape, as the daemon set it (read once) */
static pthread_key_t ring_key;
static uint32_t my_proc = MS_SHM_NO_PROC; /* this process' entry */

#define LATER 8 /* records a thread keeps for later: signal handlers nested inside one put() */
_Static_assert((LATER & (LATER - 1)) == 0 && LATER < 256,
	       "later[] is indexed by uint8_t counters modulo LATER");

/* A thread's ring and call depth. initial-exec: no allocation on first use. */
struct tls {
	struct ms_shm_ring *ring;
	uint32_t tid;
	uint16_t depth;	   /* interposed calls in progress on this thread */
	uint16_t outer;	   /* the outermost one's function */
	uint32_t retry_at; /* no free ring: records skipped before looking again */
	bool in_init;
	bool in_walk;	     /* walking this thread's stack: calls forwarded, not recorded */
	int64_t sample_left; /* --sample-bytes: bytes until the next sample; 0: not drawn */
	uint64_t rnd;	     /* --sample-bytes: xorshift state; 0: not seeded */
	/* records of signal handlers that ran while this thread wrote one into its ring
	 * (put() between its busy mark and head): later[later_tail..later_head), each
	 * written after it (put_later) */
	uint8_t later_head, later_tail;
	struct ms_event later[LATER];
};
static __thread struct tls tls __attribute__((tls_model("initial-exec")));

static void put_later(struct ms_shm_ring *r);

static void close_ring(void *r)
{
	struct ms_shm_ring *ring = r;

	if (ring && ring == tls.ring) {
		/* what handlers kept for later and a full ring left: written, or lost */
		put_later(ring);
		__atomic_fetch_add(&ring->lost, (uint8_t)(tls.later_head - tls.later_tail),
				   __ATOMIC_RELAXED);
		tls.later_tail = tls.later_head;
		__atomic_store_n(&ring->state, MS_SHM_CLOSED, __ATOMIC_RELEASE);
		tls.ring = NULL;
	}
}

/* The next definition of each interposed function (0: none), the object it is in (its
 * entry's obj), and the object whose calls it is one allocator with, for MS_SHIM_SKIP (its
 * own, or its family's group's) */
static uintptr_t real_at[MS_IP_NFN];
static uint8_t fn_obj[MS_IP_NFN], fn_nest[MS_IP_NFN];
static uint16_t fn_group[MS_IP_NFN]; /* its family's group, 0: none */

/* With the daemon's block, a writer waits for it (for room in its ring, for a ring), but
 * only while it reads: a daemon whose heartbeat stands still for a second (gone, or
 * stopped) is waited for no more, by any thread; its records are then lost */
static bool daemon_gone;

struct wait {
	uint64_t beat, since;
};

static bool wait_start(struct wait *w)
{
	if (!shm->block || daemon_gone)
		return false;
	w->beat = __atomic_load_n(&shm->heartbeat, __ATOMIC_ACQUIRE);
	w->since = __rdtsc();
	return true;
}

/* Whether the daemon still reads (false: it has not for a second: gone, or stopped) */
static bool wait_alive(struct wait *w)
{
	uint64_t now = __rdtsc(), b = __atomic_load_n(&shm->heartbeat, __ATOMIC_ACQUIRE);

	if (b != w->beat) {
		w->beat = b;
		w->since = now;
	} else if (now - w->since > (1ULL << 32)) { /* about a second at 4 GHz, 2 at 2 */
		daemon_gone = true;
		return false;
	}
	return true;
}

/* One more turn of a wait for a ring (true), or false: the daemon has stopped reading */
static bool wait_turn(struct wait *w)
{
	if (!wait_alive(w))
		return false;
	sched_yield();
	return true;
}

#define WAIT_SLEEP_NS (10 * 1000 * 1000) /* a futex wait's limit: then the heartbeat */

/*
 * A full ring: sleep until the daemon has read half of it (true), or false: the record is
 * lost. The thread sleeps (a futex wait on the ring's wake word, which the daemon moves
 * and wakes once its tail is past want) rather than spin: the daemon needs the CPU a
 * spinning thread would take (two threads of a program on two CPUs would leave it none),
 * and half a ring is one wait and one wakeup in 32,768 records. errno is the program's:
 * kept across the wait.
 */
static bool wait_room(struct ms_shm_ring *r, uint64_t head)
{
	const struct timespec limit = { 0, WAIT_SLEEP_NS };
	uint64_t want = head - MS_SHM_RING_RECORDS / 2; /* the ring is full: head > want > 0 */
	int saved = errno;
	bool ok = true;
	struct wait w;

	if (!wait_start(&w))
		return false;
	for (;;) {
		uint32_t seq = __atomic_load_n(&r->wake, __ATOMIC_ACQUIRE);

		/* want before tail is read, as the daemon stores tail before it reads want:
		 * one of the two sees the other's */
		__atomic_store_n(&r->want, want, __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if ((int64_t)(__atomic_load_n(&r->tail, __ATOMIC_ACQUIRE) - want) >= 0)
			break;
		/* a futex the program may not use (a seccomp filter's error): a turn as
		 * for a ring */
		if (syscall(SYS_futex, &r->wake, FUTEX_WAIT, seq, &limit, NULL, 0) &&
		    errno != EAGAIN && errno != ETIMEDOUT && errno != EINTR)
			sched_yield();
		if (!(ok = wait_alive(&w)))
			break;
	}
	__atomic_store_n(&r->want, 0, __ATOMIC_RELAXED);
	errno = saved;
	return ok;
}

/* A free ring taken for this thread, or NULL; *closed: some ring's thread has ended (the
 * daemon frees it at its next read) */
static struct ms_shm_ring *find_ring(uint32_t tid, bool *closed)
{
	uint32_t i, n = shm->nrings;

	for (i = 0; i < n; i++) {
		uint32_t q = (tid + i) % n, free_state = MS_SHM_FREE;
		struct ms_shm_ring *r = &rings[q];
		uint32_t st = __atomic_load_n(&r->state, __ATOMIC_RELAXED);

		if (st == MS_SHM_CLOSED)
			*closed = true;
		if (st != MS_SHM_FREE ||
		    !__atomic_compare_exchange_n(&r->state, &free_state, MS_SHM_TAKEN, false,
						 __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
			continue;
		/* the daemon looks at it from now on (a thread killed between the two would
		 * hold it unseen); before the first record, so that a daemon that does not
		 * see the bit yet rightly takes the ring as quiet */
		__atomic_fetch_or(&shm->taken[q / 64], 1ULL << (q % 64), __ATOMIC_RELEASE);
		r->tgid = (uint32_t)getpid();
		r->tid = tid;
		r->proc = my_proc; /* the daemon zeroed head, tail and lost when it freed it */
		return r;
	}
	return NULL;
}

/*
 * A ring for this thread, or NULL: every ring is taken (the record counted lost, and the
 * thread's next RETRY_RINGS records too, before it looks again). With the daemon's block,
 * a thread waits while rings of ended threads wait to be freed (threads that come and go
 * faster than the daemon reads), never for one a live thread holds: a program with more
 * threads than rings runs on, those past the rings untraced.
 */
#define RETRY_RINGS 4096

static struct ms_shm_ring *take_ring(void)
{
	struct ms_shm_ring *r;
	struct wait w;
	bool waiting = false, closed;
	uint32_t tid;

	if (tls.retry_at) {
		tls.retry_at--;
		__atomic_fetch_add(&shm->no_ring, 1, __ATOMIC_RELAXED);
		return NULL;
	}
	tid = tls.tid ? tls.tid : (tls.tid = (uint32_t)syscall(SYS_gettid));
	for (;;) {
		closed = false;
		r = find_ring(tid, &closed);
		if (r) {
			tls.ring = r;
			pthread_setspecific(ring_key, r);
			return r;
		}
		if (!closed || (!waiting && !(waiting = wait_start(&w))) || !wait_turn(&w))
			break;
		if (tls.ring) /* a signal handler's call took one while this one waited */
			return tls.ring;
	}
	tls.retry_at = RETRY_RINGS;
	__atomic_fetch_add(&shm->no_ring, 1, __ATOMIC_RELAXED);
	return NULL;
}

/* ---------------------------------------------------------------- stacks */

/*
 * Blocks the walks' own calls allocated (libunwind's first walk in a thread allocates the
 * thread's block of its dynamic TLS, which glibc frees when the thread ends, outside any
 * walk): their frees are not recorded either. An open-addressing set of addresses (0 free,
 * 1 a block freed since); a free looks only while it is not empty. Past UNTRACED_MAX
 * blocks (threads alive at once that walked), a block is not remembered: its free is
 * recorded, as one of a block never seen allocated (unmatched).
 */
#define UNTRACED_MAX 4096 /* a power of two */
#define UNTRACED_GONE 1
static uintptr_t untraced[UNTRACED_MAX];
static uint32_t untraced_n; /* blocks in it */

static uint32_t untraced_at(uintptr_t p)
{
	return (uint32_t)((p >> 4) * 0x9e3779b1u) & (UNTRACED_MAX - 1);
}

static void untraced_add(uintptr_t p)
{
	uint32_t i = untraced_at(p), k;

	for (k = 0; k < UNTRACED_MAX; k++, i = (i + 1) & (UNTRACED_MAX - 1)) {
		uintptr_t cur = __atomic_load_n(&untraced[i], __ATOMIC_RELAXED);

		if ((cur == 0 || cur == UNTRACED_GONE) &&
		    __atomic_compare_exchange_n(&untraced[i], &cur, p, false, __ATOMIC_RELEASE,
						__ATOMIC_RELAXED)) {
			__atomic_fetch_add(&untraced_n, 1, __ATOMIC_RELEASE);
			return;
		}
	}
}

/* Whether p is a block of the walks' (then no more) */
static bool untraced_take(uintptr_t p)
{
	uint32_t i = untraced_at(p), k;

	if (likely(!__atomic_load_n(&untraced_n, __ATOMIC_ACQUIRE)))
		return false;
	for (k = 0; k < UNTRACED_MAX; k++, i = (i + 1) & (UNTRACED_MAX - 1)) {
		uintptr_t cur = __atomic_load_n(&untraced[i], __ATOMIC_ACQUIRE);

		if (!cur)
			return false;
		if (cur == p &&
		    __atomic_compare_exchange_n(&untraced[i], &cur, UNTRACED_GONE, false,
						__ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
			__atomic_fetch_sub(&untraced_n, 1, __ATOMIC_RELEASE);
			return true;
		}
	}
	return false;
}

/* libunwind's unw_backtrace, once the library's constructor has loaded it (NULL: no
 * walks, the allocations' stacks are counted lost) */
static int (*walk_fn)(void **buffer, int size);

/* Frames a walk may find inside this library (and a family's) before the interposer's
 * caller: emit_slow (stack_id_of is inlined into it: each frame of its own is a step
 * of the walk, about 6 ns), the interposer, a family's wrapper */
#define WALK_SKIP 8

/* This thread's next 32 random bits (xorshift64*) */
static uint32_t random32(void)
{
	uint64_t x = tls.rnd;

	if (!x)
		x = __rdtsc() ^ ((uint64_t)syscall(SYS_gettid) << 32) ^ (uintptr_t)&tls;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	tls.rnd = x ? x : 1;
	return (uint32_t)((x * 0x2545f4914f6cdd1dULL) >> 32);
}

/* --sample-bytes: whether an allocation of size bytes is in the sample, the BPF programs'
 * in_sample: a thread's bytes until its next sample are an exponential draw of mean
 * sample_bytes (include/memscope.h, ms_sample_gap) */
static bool in_sample(uint64_t size)
{
	uint64_t mean = shm->sample_bytes;

	if (!tls.sample_left)
		tls.sample_left = (int64_t)ms_sample_gap(random32(), mean, shm->log2_q16) + 1;
	tls.sample_left -= size < (1ULL << 62) ? (int64_t)size : (1LL << 62);
	if (tls.sample_left > 0)
		return false;
	tls.sample_left = (int64_t)ms_sample_gap(random32(), mean, shm->log2_q16) + 1;
	return true;
}

/*
 * The stack of the call of fn that returns to caller, in the table: its id, or -1 (lost,
 * counted). Laid out as the BPF programs' stacks: the allocation function (where fn
 * forwards to), the caller, its callers, --stack-depth frames in all. The walk runs with
 * in_walk set: what it calls of the interposed functions (libunwind's first use in a
 * thread allocates its caches) is forwarded and not recorded; a signal handler that
 * allocates meanwhile is not recorded either, as inside any other interposed call.
 */
static inline __attribute__((always_inline)) int32_t stack_id_of(uint16_t fn, uint64_t caller)
{
	void *buf[MS_MAX_STACK_DEPTH + WALK_SKIP];
	uint64_t ip[MS_MAX_STACK_DEPTH];
	int (*walk)(void **, int) = __atomic_load_n(&walk_fn, __ATOMIC_ACQUIRE);
	int n = 0, k;
	unsigned m;

	if (walk) {
		tls.in_walk = true;
		n = walk(buf, (int)stacks.depth - 1 + WALK_SKIP);
		tls.in_walk = false;
	}
	for (k = 0; k < n && k < WALK_SKIP && (uintptr_t)buf[k] != caller; k++)
		;
	if (k >= n || k == WALK_SKIP) { /* no walk, or one that missed the interposer's caller */
		__atomic_fetch_add(&shm->stacks.lost, 1, __ATOMIC_RELAXED);
		return -1;
	}
	ip[0] = real_at[fn];
	for (m = 1; m < stacks.depth && k < n; m++, k++)
		ip[m] = (uintptr_t)buf[k];
	return ms_stacktab_insert(&shm->stacks, stack_table, ip, m,
				  tls.tid ? tls.tid : (uint32_t)syscall(SYS_gettid));
}

/* Loads libunwind, local to this library (its _Unwind_* never replace libgcc's for the
 * program), sets its caches per thread (no lock, nothing to block a signal handler) and
 * walks once. Run at the library's start, outside any loader lock; the calls it makes are
 * forwarded, not recorded. Before it, allocations have no stack (counted lost). */
__attribute__((constructor)) static void stacks_start(void)
{
	void *buf[4], *lib;
	int (*walk)(void **, int);
	int (*policy)(unw_addr_space_t, unw_caching_policy_t);
	unw_addr_space_t *local;

	if (!ms_shim_ready() || !ms_shim_recording() || !stack_table)
		return;
	tls.in_walk = true;
	lib = dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL);
	walk = lib ? (int (*)(void **, int))dlsym(lib, "unw_backtrace") : NULL;
	policy = lib ? (int (*)(unw_addr_space_t,
				unw_caching_policy_t))dlsym(lib, MS_XSTR(unw_set_caching_policy)) :
		       NULL;
	local = lib ? (unw_addr_space_t *)dlsym(lib, MS_XSTR(unw_local_addr_space)) : NULL;
	if (walk && policy && local && !policy(*local, UNW_CACHE_PER_THREAD)) {
		walk(buf, 4);
		__atomic_store_n(&walk_fn, walk, __ATOMIC_RELEASE);
	}
	tls.in_walk = false;
}

/* The CPU the thread runs on: the kernel keeps it in the thread's rseq area, which glibc
 * registers (2.35 on, unless a tunable turned it off): one load, where sched_getcpu is a
 * call through the PLT that loads the same */
static inline int cpu_now(void)
{
	if (likely(__rseq_size >= offsetof(struct rseq, cpu_id) + sizeof(int))) {
		int cpu = *(volatile const int *)((const char *)__builtin_thread_pointer() +
						  __rseq_offset + offsetof(struct rseq, cpu_id));

		if (likely(cpu >= 0))
			return cpu;
	}
	return sched_getcpu();
}

/* Records ahead of head whose line put() asks for, to be written: the daemon read it on
 * its CPU when the ring last came round, and taking it back for a store (a read for
 * ownership) is a transfer between the two CPUs' caches that the record's stores would
 * wait for: 100 ns and more where the CPUs share no cache (bench/writer.c's read rows on an
 * AMD EPYC guest: 70 ns a pair without, 30 with; 8 to 32 ahead measure the same) */
#define PREFETCH_AHEAD 16

/* The CPU has PREFETCHW (prefetch for a write; a read prefetch without it) */
static bool have_prefetchw;

static bool cpu_has_prefetchw(void)
{
	unsigned a, b, c, d;

	return __get_cpuid(0x80000001, &a, &b, &c, &d) && (c & bit_PRFCHW);
}

/* The record, at e: stamped now, on this CPU (its node), in this thread's ring r */
static inline __attribute__((always_inline)) void
fill(struct ms_event *e, const struct ms_shm_ring *r, uint8_t type, uint8_t flags, uint16_t fn,
     uint64_t ptr, uint64_t size, uint64_t ret, int32_t stack_id, uint64_t caller)
{
	int cpu = cpu_now();

	e->type = type;
	e->flags = flags | MS_EVF_INPROC;
	e->func = fn;
	e->cpu = cpu < 0 ? 0 : (uint16_t)cpu;
	e->node = (unsigned)cpu < MS_SHM_MAX_CPUS ? shm->node_of_cpu[cpu] : 0;
	e->reserved = 0;
	e->tgid = r->tgid;
	e->tid = r->tid;
	e->ts_ns = __rdtsc(); /* the daemon makes it CLOCK_MONOTONIC */
	e->a.ptr = ptr;
	e->a.size = size;
	e->a.ret = ret;
	e->stack_id = stack_id;
	e->outer_func = flags & MS_EVF_NESTED ? tls.outer : 0;
	e->pad = 0;
	e->caller = caller;
}

/*
 * Starts a record in ring r: the busy mark, then where the record goes in *head; false
 * (the mark taken back) when the ring is full. The mark is set from before the TSC is
 * read to after head (what the daemon sees of a writer preempted in between), and tells
 * a signal handler that interrupts its thread here that the slot at head is taken.
 */
static inline __attribute__((always_inline)) bool claim(struct ms_shm_ring *r, uint64_t *head)
{
	__atomic_store_n(&r->busy, 1, __ATOMIC_RELAXED);
	__atomic_signal_fence(__ATOMIC_SEQ_CST); /* head and the TSC are read after it */
	*head = r->head;
	if (likely(*head - __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE) < MS_SHM_RING_RECORDS))
		return true;
	__atomic_store_n(&r->busy, 0, __ATOMIC_RELEASE);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	return false;
}

/* The record at head is written: it goes to the daemon, the mark comes off */
static inline __attribute__((always_inline)) void publish(struct ms_shm_ring *r, uint64_t head)
{
	__atomic_store_n(&r->head, head + 1, __ATOMIC_RELEASE);
	__atomic_store_n(&r->busy, 0, __ATOMIC_RELEASE);
	__atomic_signal_fence(__ATOMIC_SEQ_CST); /* later_head is read after it */
}

/* The records signal handlers kept for later, into ring r in the order they were made,
 * while it has room (those left go with the thread's next record) */
static __attribute__((noinline)) void put_later(struct ms_shm_ring *r)
{
	uint64_t head;

	while (tls.later_tail != tls.later_head && claim(r, &head)) {
		r->rec[head & (MS_SHM_RING_RECORDS - 1)] = tls.later[tls.later_tail % LATER];
		tls.later_tail++; /* before publish: a handler after it may write the next */
		publish(r, head);
	}
}

/* A record of a signal handler that interrupted its thread inside put() (the ring busy): the
 * slot at head is that put()'s, so it is kept for later; lost when later[] is full */
static __attribute__((noinline)) void defer(struct ms_shm_ring *r, uint8_t type, uint8_t flags,
					    uint16_t fn, uint64_t ptr, uint64_t size, uint64_t ret,
					    int32_t stack_id, uint64_t caller)
{
	uint8_t h = tls.later_head;

	if ((uint8_t)(h - tls.later_tail) >= LATER) {
		__atomic_fetch_add(&r->lost, 1, __ATOMIC_RELAXED);
		return;
	}
	fill(&tls.later[h % LATER], r, type, flags, fn, ptr, size, ret, stack_id, caller);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	tls.later_head = h + 1;
}

/*
 * The record, into this thread's ring r; false when the ring is full. A signal handler's
 * call that interrupts another put() of its thread (the ring busy: that one holds the slot
 * at head) is kept for later and written after it; put() writes what handlers kept while
 * it ran once its own record is in.
 */
static inline __attribute__((always_inline)) bool put(struct ms_shm_ring *r, uint8_t type,
						      uint8_t flags, uint16_t fn, uint64_t ptr,
						      uint64_t size, uint64_t ret, int32_t stack_id,
						      uint64_t caller)
{
	struct ms_event *e;
	uint64_t head;

	if (unlikely(__atomic_load_n(&r->busy, __ATOMIC_RELAXED))) {
		defer(r, type, flags, fn, ptr, size, ret, stack_id, caller);
		return true;
	}
	if (unlikely(!claim(r, &head)))
		return false;
	e = &r->rec[(head + PREFETCH_AHEAD) & (MS_SHM_RING_RECORDS - 1)];
	if (likely(have_prefetchw))
		__asm__ volatile("prefetchw %0" : : "m"(*e));
	else
		__builtin_prefetch(e, 1);
	fill(&r->rec[head & (MS_SHM_RING_RECORDS - 1)], r, type, flags, fn, ptr, size, ret,
	     stack_id, caller);
	publish(r, head);
	if (unlikely(tls.later_head != tls.later_tail))
		put_later(r);
	return true;
}

/* ms_shim_emit past its common case: a call not to record, blocks of the stack walks,
 * --stacks, no ring yet, a full ring */
static __attribute__((noinline)) void emit_slow(uint8_t type, uint8_t flags, uint16_t fn,
						uint64_t ptr, uint64_t size, uint64_t ret,
						uint64_t caller)
{
	struct ms_shm_ring *r = tls.ring;
	int32_t stack_id = -1;

	if (flags & MS_SHIM_SKIP) {
		if (unlikely(tls.in_walk) && type == MS_EV_ALLOC && ptr)
			untraced_add(ptr);
		else if (type == MS_EV_FREE || type == MS_EV_REALLOC_ENTER)
			untraced_take(ptr); /* the address may come back to the program */
		return;
	}
	/* the free of a block the walks allocated: theirs too (a realloc of one, which glibc
	 * never makes, is recorded: its address is only forgotten) */
	if (unlikely(untraced_n) && type == MS_EV_FREE && untraced_take(ptr))
		return;
	if (unlikely(untraced_n) && type == MS_EV_REALLOC_ENTER)
		untraced_take(ptr);
	/* the BPF programs' stacks: an outermost call's allocation, in the sample */
	if (stack_table && !(flags & MS_EVF_NESTED) &&
	    (type == MS_EV_ALLOC || type == MS_EV_REALLOC)) {
		if (shm->sample_bytes && !in_sample(size))
			flags |= MS_EVF_UNSAMPLED;
		else
			stack_id = stack_id_of(fn, caller);
	}
	if (unlikely(!r) && !(r = take_ring()))
		return;
	while (!put(r, type, flags, fn, ptr, size, ret, stack_id, caller))
		if (!wait_room(r, r->head)) {
			/* one instruction: a signal handler's loss in between is not lost */
			__atomic_fetch_add(&r->lost, 1, __ATOMIC_RELAXED);
			return;
		}
}

/* Inlined into the interposers: the common case (a call to record, a ring with room, no
 * stacks, no walk's blocks about) goes straight to put */
inline __attribute__((always_inline)) void ms_shim_emit(uint8_t type, uint8_t flags, uint16_t fn,
							uint64_t ptr, uint64_t size, uint64_t ret,
							uint64_t caller)
{
	struct ms_shm_ring *r = tls.ring;

	if (likely(r && !(flags & MS_SHIM_SKIP) && !untraced_n && !stack_table) &&
	    likely(put(r, type, flags, fn, ptr, size, ret, -1, caller)))
		return;
	emit_slow(type, flags, fn, ptr, size, ret, caller);
}

/* Where addr is: its object's path and its offset in the file */
struct where {
	uintptr_t addr;
	const char *name;
	uint64_t file_off;
	bool found;
};

static int find_object(struct dl_phdr_info *info, size_t size, void *ctx)
{
	struct where *w = ctx;
	int i;

	for (i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t start = info->dlpi_addr + ph->p_vaddr;

		if (ph->p_type != PT_LOAD || w->addr < start || w->addr >= start + ph->p_memsz)
			continue;
		w->name = info->dlpi_name;
		w->file_off = w->addr - start + ph->p_offset;
		w->found = true;
		return 1;
	}
	return 0;
}

/* Function fn of entry p forwards to addr */
static void place_fn(struct ms_shm_proc *p, unsigned fn, uintptr_t addr)
{
	struct where w = { .addr = addr };
	char path[MS_SHM_PATH];
	unsigned k;
	ssize_t n;

	p->fn[fn].obj = MS_SHM_NO_OBJ;
	if (!addr || !dl_iterate_phdr(find_object, &w) || !w.found)
		return;
	if (w.name && *w.name) {
		snprintf(path, sizeof(path), "%s", w.name);
	} else { /* the executable */
		n = readlink("/proc/self/exe", path, sizeof(path) - 1);
		if (n <= 0)
			return;
		path[n] = '\0';
	}
	for (k = 0; k < MS_SHM_OBJS && p->obj[k][0]; k++)
		if (!strcmp(p->obj[k], path))
			break;
	if (k == MS_SHM_OBJS)
		return;
	if (!p->obj[k][0])
		memcpy(p->obj[k], path, sizeof(path));
	p->fn[fn].obj = k;
	p->fn[fn].file_off = w.file_off;
}

/* This process' entry: where each interposed function forwards to */
static void register_process(void)
{
	uint32_t pid = (uint32_t)getpid(), i, k;

	my_proc = MS_SHM_NO_PROC;
	for (i = 0; i < shm->nprocs; i++) {
		struct ms_shm_proc *p = &shm->procs[(pid + i) % shm->nprocs];
		uint32_t zero = 0;

		if (!__atomic_compare_exchange_n(&p->tgid, &zero, pid, false, __ATOMIC_ACQ_REL,
						 __ATOMIC_RELAXED))
			continue;
		p->since = __rdtsc();
		memset(p->obj, 0, sizeof(p->obj));
		for (k = 1; k < MS_IP_NFN; k++) {
			place_fn(p, k, real_at[k]);
			fn_obj[k] = p->fn[k].obj;
		}
		for (k = 1; k < MS_IP_NFN; k++)
			fn_nest[k] = fn_obj[fn_group[k] ? fn_group[k] : k];
		__atomic_store_n(&p->ready, 1, __ATOMIC_RELEASE);
		my_proc = (pid + i) % shm->nprocs;
		return;
	}
	__atomic_fetch_add(&shm->no_proc, 1, __ATOMIC_RELAXED);
}

/* A forked child: a process of its own, its one thread without a ring yet (the parent's
 * thread keeps the one it had) */
static void after_fork_child(void)
{
	tls.ring = NULL;
	tls.tid = 0;
	tls.retry_at = 0;
	tls.rnd = 0; /* its own draws, not its parent's */
	/* records a handler kept (a fork in a handler inside put()): the parent writes them */
	tls.later_tail = tls.later_head;
	if (state != ST_ON)
		return;
	if (!shm->follow) /* a child of the command, not traced: calls forwarded only */
		__atomic_store_n(&state, ST_OFF, __ATOMIC_RELEASE);
	else
		register_process();
}

/* --stacks: the stack table of the region in fd (of size bytes), when the daemon made one */
static void map_stacks(int fd, size_t size)
{
	const struct ms_shm_stacks *st = &shm->stacks;
	size_t bytes;
	void *p;

	if (!st->slots || !st->depth || st->depth > MS_MAX_STACK_DEPTH || st->max > st->slots ||
	    shm->stacks_off != MS_SHM_STACKS_OFFSET)
		return;
	bytes = ms_stacktab_bytes(st->slots, st->depth);
	if (shm->stacks_off + bytes > size)
		return;
	p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)shm->stacks_off);
	if (p == MAP_FAILED)
		return;
	stacks = *st;
	stack_table = p;
}

static void *map_region(void)
{
	const char *path = getenv(MS_SHM_ENV);
	struct stat st;
	void *p;
	int fd;

	if (!path || !*path)
		return NULL;
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) || (size_t)st.st_size < MS_SHM_SIZE) {
		close(fd);
		return NULL;
	}
	p = mmap(NULL, MS_SHM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		close(fd);
		return NULL;
	}
	shm = p;
	if (shm->magic != MS_SHM_MAGIC || shm->version != MS_SHM_VERSION ||
	    shm->nrings != MS_SHM_RINGS || shm->ring_records != MS_SHM_RING_RECORDS ||
	    shm->nprocs != MS_SHM_PROCS) {
		munmap(p, MS_SHM_SIZE);
		shm = NULL;
		close(fd);
		return NULL;
	}
	map_stacks(fd, (size_t)st.st_size);
	close(fd);
	return p;
}

/* The allocator families whose library may be preloaded too: their tables' symbols */
#define FAMILY_SYMBOL(name) "ms_shim_family_" #name,
static const char *const family_symbol[] = { MS_SHM_FAMILIES(FAMILY_SYMBOL) };

/* The next definition of each of fam's functions */
static void look_up(const struct ms_shim_family *fam)
{
	unsigned fn;

	for (fn = 1; fn < MS_IP_NFN; fn++) {
		if (!fam->symbol[fn])
			continue;
		fam->real[fn] = fam->next(fam->symbol[fn]);
		real_at[fn] = (uintptr_t)fam->real[fn];
		fn_group[fn] = fam->group;
	}
}

/* The real functions, then the region; once per process (a child inherits both) */
static void init(void)
{
	int expect = ST_NONE;
	size_t i;

	if (!__atomic_compare_exchange_n(&state, &expect, ST_INIT, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE)) {
		/* another thread is at it: wait (this thread's own calls during it take the
		 * bootstrap blocks, see in_init) */
		while (__atomic_load_n(&state, __ATOMIC_ACQUIRE) == ST_INIT)
			sched_yield();
		return;
	}
	tls.in_init = true;
	have_prefetchw = cpu_has_prefetchw();
	look_up(&ms_shim_libc);
	if (!real_at[MS_IP_MALLOC] || !real_at[MS_IP_FREE] || !real_at[MS_IP_CALLOC] ||
	    !real_at[MS_IP_REALLOC]) {
		tls.in_init = false;
		__atomic_store_n(&state, ST_OFF, __ATOMIC_RELEASE);
		return;
	}
	for (i = 0; i < sizeof(family_symbol) / sizeof(family_symbol[0]); i++) {
		const struct ms_shim_family *fam = dlsym(RTLD_DEFAULT, family_symbol[i]);

		if (fam)
			look_up(fam);
	}
	if (map_region() && (shm->follow || shm->root_tgid == (uint32_t)getpid())) {
		rings = (struct ms_shm_ring *)((char *)shm + MS_SHM_RINGS_OFFSET);
		if (pthread_key_create(&ring_key, close_ring) == 0 &&
		    pthread_atfork(NULL, NULL, after_fork_child) == 0) {
			register_process();
			tls.in_init = false;
			__atomic_store_n(&state, ST_ON, __ATOMIC_RELEASE);
			return;
		}
	}
	tls.in_init = false;
	__atomic_store_n(&state, ST_OFF, __ATOMIC_RELEASE);
}

inline bool ms_shim_ready(void)
{
	int s = __atomic_load_n(&state, __ATOMIC_ACQUIRE);

	if (likely(s >= ST_ON))
		return true;
	if (tls.in_init)
		return false;
	init();
	return __atomic_load_n(&state, __ATOMIC_ACQUIRE) >= ST_ON;
}

inline bool ms_shim_recording(void)
{
	return state == ST_ON;
}

inline uint8_t ms_shim_enter(uint16_t fn)
{
	if (unlikely(tls.in_walk)) { /* the stack walk's own call */
		tls.depth++;
		return MS_SHIM_SKIP;
	}
	if (tls.depth++ == 0) {
		tls.outer = fn;
		return 0;
	}
	return fn_nest[fn] == fn_nest[tls.outer] ? MS_SHIM_SKIP : MS_EVF_NESTED;
}

bool ms_shim_forwards_into(uint16_t fn, uint16_t anchor)
{
	return fn_obj[fn] != MS_SHM_NO_OBJ && fn_obj[fn] == fn_obj[anchor];
}

inline void ms_shim_leave(void)
{
	tls.depth--;
}
