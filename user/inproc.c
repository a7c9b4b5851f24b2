/* inproc.c: the in-process source's daemon side: creates the shared region, reads each
 * thread's ring, names the records' functions from their process' entry, puts their TSC
 * on CLOCK_MONOTONIC, and lets rings and entries go when their threads and processes end */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>
#include "inproc.h"
#include "memscope_shm.h"
#include "sample.h"
#include "stacktab.h"

/* (TSC, CLOCK_MONOTONIC) pairs kept, one per read: a record stamped before the oldest (a
 * writer preempted that long in the middle of it) is put on the line through the oldest and
 * the newest */
#define ANCHORS 1024
#define ANCHOR_TRIES 3	  /* reads of the clock an anchor takes the tightest of */
#define TAIL_EVERY 4096	  /* records read between two stores of a ring's tail */
#define BATCH 64	  /* records handed on together (4 KiB) */
#define PREFETCH_AHEAD 16 /* records asked for ahead of the copy (1 KiB) */
/* A writer's busy mark may reach this CPU a moment after it read the TSC: a ring seen empty
 * and not busy at T says nothing of records stamped just before T (a writer preempted
 * between the two is seen busy). A store reaches another CPU within microseconds; each
 * record read waits this long in the merge (a millisecond kept a backlog of over 1 MB
 * beyond the caches, 4% of block-mode pairs) */
#define QUIET_MARGIN_NS (100 * 1000ULL)

struct anchor {
	uint64_t tsc, ns;
};

/* What the daemon knows of an entry of procs[]: flags, looked at for every entry at
 * each read, apart from the names, touched only for entries in use (together 500 KiB:
 * untouched, they take no memory) */
enum {
	PROC_NAMED = 1, /* func[k] is filled */
	PROC_ENDING = 2 /* its process ended: let go once its rings are read */
};

struct ms_inproc {
	char path[128]; /* /proc/PID/fd/FD: the file is unlinked at once, nothing is left
			   behind when the tracer is killed */
	int fd;
	struct ms_shm_header *shm;
	struct ms_shm_ring *rings;
	struct anchor anchor[ANCHORS]; /* by time, oldest at anchor[first] */
	unsigned nanchors, first;
	/* the last pair of anchors a conversion used, its slope as ns per TSC tick times
	 * 2^32: a read's records almost all fall between the same two */
	struct anchor seg_a, seg_b;
	uint64_t seg_mult;
	uint8_t flags[MS_SHM_PROCS];		/* PROC_* */
	unsigned nending;			/* entries with PROC_ENDING */
	bool in_use[MS_SHM_PROCS];		/* a ring of it was read now (while nending) */
	uint16_t func[MS_SHM_PROCS][MS_IP_NFN]; /* catalog ids; 0: unnamed */
	uint64_t unnamed;
	uint64_t ring_full; /* of the rings let go */
	void *stacks;	    /* --stacks: the stack table's mapping */
	size_t stacks_bytes;
	struct ms_shm_stacks shape; /* its shape as set here */
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* A (TSC, CLOCK_MONOTONIC) pair: the TSC read on both sides of the clock, the middle, of the
 * tightest of a few tries (the daemon interrupted between its reads would put the clock
 * anywhere between them) */
static void take_anchor(struct ms_inproc *ip)
{
	uint64_t width = UINT64_MAX;
	struct anchor a = { 0, 0 };
	unsigned at, i;

	for (i = 0; i < ANCHOR_TRIES; i++) {
		uint64_t t0 = __rdtsc(), ns = mono_ns(), t1 = __rdtsc();

		if (t1 - t0 < width) {
			width = t1 - t0;
			a = (struct anchor){ t0 + (t1 - t0) / 2, ns };
		}
	}
	if (ip->nanchors) {
		const struct anchor *last = &ip->anchor[(ip->first + ip->nanchors - 1) % ANCHORS];

		if (a.tsc <= last->tsc || a.ns <= last->ns)
			return;
	}
	if (ip->nanchors < ANCHORS) {
		at = (ip->first + ip->nanchors++) % ANCHORS;
	} else {
		at = ip->first;
		ip->first = (ip->first + 1) % ANCHORS;
	}
	ip->anchor[at] = a;
}

static const struct anchor *anchor_at(const struct ms_inproc *ip, unsigned i)
{
	return &ip->anchor[(ip->first + i) % ANCHORS];
}

/* Whether tsc is in the pair of anchors the last conversion found it in (most are) */
static inline bool in_seg(const struct ms_inproc *ip, uint64_t tsc)
{
	return tsc >= ip->seg_a.tsc && tsc < ip->seg_b.tsc;
}

static inline uint64_t seg_ns(const struct ms_inproc *ip, uint64_t tsc)
{
	return ip->seg_a.ns +
	       (uint64_t)(((unsigned __int128)(tsc - ip->seg_a.tsc) * ip->seg_mult) >> 32);
}

uint64_t ms_inproc_tsc_ns(struct ms_inproc *ip, uint64_t tsc)
{
	const struct anchor *a, *b;
	unsigned lo = 0, hi = ip->nanchors - 1;
	double slope;

	if (in_seg(ip, tsc))
		return seg_ns(ip, tsc);
	/* the pair around tsc (or the first or last two) */
	while (hi - lo > 1) {
		unsigned mid = (lo + hi) / 2;

		if (anchor_at(ip, mid)->tsc <= tsc)
			lo = mid;
		else
			hi = mid;
	}
	a = anchor_at(ip, lo);
	b = anchor_at(ip, hi);
	if (tsc >= a->tsc && tsc < b->tsc) { /* inside: the pair is kept for the next */
		ip->seg_a = *a;
		ip->seg_b = *b;
		ip->seg_mult = (uint64_t)((((unsigned __int128)(b->ns - a->ns)) << 32) /
					  (b->tsc - a->tsc));
		return ms_inproc_tsc_ns(ip, tsc);
	}
	/* outside them all: on the line through the oldest and the newest (a slope over the
	 * whole span, not one short step's) */
	a = anchor_at(ip, 0);
	b = anchor_at(ip, ip->nanchors - 1);
	slope = (double)(b->ns - a->ns) / (double)(b->tsc - a->tsc);
	return (uint64_t)((int64_t)a->ns + (int64_t)(slope * (double)(int64_t)(tsc - a->tsc)));
}

struct ms_inproc *ms_inproc_new(const char *dir)
{
	static unsigned seq;
	struct ms_inproc *ip = calloc(1, sizeof(*ip));
	char name[128];
	uint64_t until;
	void *p;
	int fd, err;

	if (!ip)
		return NULL;
	snprintf(name, sizeof(name), "%s/memscope-%d-%u", dir, (int)getpid(), seq++);
	fd = open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		err = errno;
		free(ip);
		errno = err;
		return NULL;
	}
	unlink(name);
	p = ftruncate(fd, MS_SHM_SIZE) ?
		    MAP_FAILED :
		    mmap(NULL, MS_SHM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		err = errno;
		close(fd);
		free(ip);
		errno = err;
		return NULL;
	}
	ip->fd = fd;
	snprintf(ip->path, sizeof(ip->path), "/proc/%d/fd/%d", (int)getpid(), fd);
	ip->shm = p;
	ip->rings = (struct ms_shm_ring *)((char *)p + MS_SHM_RINGS_OFFSET);
	ip->shm->version = MS_SHM_VERSION;
	ip->shm->nrings = MS_SHM_RINGS;
	ip->shm->ring_records = MS_SHM_RING_RECORDS;
	ip->shm->nprocs = MS_SHM_PROCS;
	ip->shm->daemon_pid = getpid();
	/* two anchors a millisecond apart: the TSC's rate from the start */
	take_anchor(ip);
	until = mono_ns() + 1000000;
	while (mono_ns() < until)
		;
	take_anchor(ip);
	__atomic_store_n(&ip->shm->magic, MS_SHM_MAGIC, __ATOMIC_RELEASE);
	return ip;
}

void ms_inproc_set_nodes(struct ms_inproc *ip, const uint8_t *node_of_cpu, unsigned ncpus)
{
	memcpy(ip->shm->node_of_cpu, node_of_cpu,
	       ncpus < MS_SHM_MAX_CPUS ? ncpus : MS_SHM_MAX_CPUS);
}

void ms_inproc_set_root(struct ms_inproc *ip, pid_t root, bool follow)
{
	ip->shm->root_tgid = root;
	ip->shm->follow = follow;
}

void ms_inproc_set_block(struct ms_inproc *ip, bool block)
{
	ip->shm->block = block;
}

int ms_inproc_set_stacks(struct ms_inproc *ip, uint32_t entries, uint32_t depth,
			 uint64_t sample_bytes)
{
	struct ms_shm_stacks st = { .depth = depth, .max = entries };
	size_t bytes;
	void *p;

	if (!entries || !depth || depth > MS_MAX_STACK_DEPTH || entries >= MS_STACK_INPROC / 2)
		return -EINVAL;
	st.slots = 2 * entries; /* at most half full: a look-up probes about 1.5 slots */
	bytes = ms_stacktab_bytes(st.slots, depth);
	if (ftruncate(ip->fd, (off_t)(MS_SHM_STACKS_OFFSET + bytes)))
		return -errno;
	p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, ip->fd,
		 (off_t)MS_SHM_STACKS_OFFSET);
	if (p == MAP_FAILED)
		return -errno;
	ip->stacks = p;
	ip->stacks_bytes = bytes;
	ip->shape = st;
	ip->shm->stacks_off = MS_SHM_STACKS_OFFSET;
	ip->shm->stacks = st;
	ip->shm->sample_bytes = sample_bytes;
	ms_sample_table(ip->shm->log2_q16);
	return 0;
}

const void *ms_inproc_stacks(const struct ms_inproc *ip, struct ms_shm_stacks *shape)
{
	*shape = ip->shape;
	return ip->stacks;
}

const char *ms_inproc_path(const struct ms_inproc *ip)
{
	return ip->path;
}

/* Names entry k's functions: a function at the same place as another gets its id */
static bool name_proc(struct ms_inproc *ip, uint32_t k, const struct ms_inproc_fns *fns)
{
	const struct ms_shm_proc *p = &ip->shm->procs[k];
	uint16_t *func = ip->func[k];
	unsigned f;

	if (ip->flags[k] & PROC_NAMED)
		return true;
	if (!__atomic_load_n(&p->ready, __ATOMIC_ACQUIRE))
		return false;
	for (f = 1; f < MS_IP_NFN; f++) {
		unsigned o = p->fn[f].obj;
		char path[MS_SHM_PATH];

		if (o >= MS_SHM_OBJS)
			continue;
		memcpy(path, p->obj[o], sizeof(path));
		path[sizeof(path) - 1] = '\0';
		func[f] = fns->resolve(fns->ctx, path, p->fn[f].file_off);
	}
	ip->flags[k] |= PROC_NAMED;
	return true;
}

/* The catalog ids of ring r's process' functions, or NULL when they cannot be named */
static const uint16_t *ring_funcs(struct ms_inproc *ip, const struct ms_shm_ring *r,
				  const struct ms_inproc_fns *fns)
{
	uint32_t k = r->proc;

	return k < MS_SHM_PROCS && name_proc(ip, k, fns) ? ip->func[k] : NULL;
}

/* A TSC reading as ms_inproc_tsc_ns, inline while it is in the pair the last one was in */
static inline uint64_t tsc_ns(struct ms_inproc *ip, uint64_t tsc)
{
	return in_seg(ip, tsc) ? seg_ns(ip, tsc) : ms_inproc_tsc_ns(ip, tsc);
}

/* Record e of a ring whose functions are func as the BPF programs write it; false when it
 * cannot be named */
static inline bool translate(struct ms_inproc *ip, const uint16_t *func, struct ms_event *e)
{
	if (!e->func || e->func >= MS_IP_NFN || !(e->func = func[e->func]))
		return false;
	if (e->flags & MS_EVF_NESTED)
		e->outer_func = e->outer_func && e->outer_func < MS_IP_NFN ? func[e->outer_func] :
									     0;
	e->flags &= ~MS_EVF_INPROC;
	e->ts_ns = tsc_ns(ip, e->ts_ns);
	return true;
}

/* tail stored before want is read, as shim.c's wait_room stores want before it reads
 * tail: one of the two sees the other's */
void ms_inproc_set_tail(struct ms_shm_ring *r, uint64_t tail)
{
	uint64_t want;

	__atomic_store_n(&r->tail, tail, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	want = __atomic_load_n(&r->want, __ATOMIC_RELAXED);
	if (!want || (int64_t)(tail - want) < 0 ||
	    !__atomic_compare_exchange_n(&r->want, &want, 0, false, __ATOMIC_RELAXED,
					 __ATOMIC_RELAXED))
		return;
	__atomic_fetch_add(&r->wake, 1, __ATOMIC_RELEASE);
	syscall(SYS_futex, &r->wake, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* Ring q, read to its end, goes back to the free ones */
static void let_go(struct ms_inproc *ip, unsigned q)
{
	struct ms_shm_ring *r = &ip->rings[q];

	ip->ring_full += r->lost;
	r->lost = 0;
	r->head = r->tail = 0;
	r->busy = 0;
	r->tgid = r->tid = 0;
	r->proc = MS_SHM_NO_PROC;
	/* not taken, then free: a thread that takes it again sets the bit after */
	__atomic_fetch_and(&ip->shm->taken[q / 64], ~(1ULL << (q % 64)), __ATOMIC_RELEASE);
	__atomic_store_n(&r->state, MS_SHM_FREE, __ATOMIC_RELEASE);
}

size_t ms_inproc_read(struct ms_inproc *ip, const struct ms_inproc_fns *fns)
{
	static uint32_t state[MS_SHM_RINGS];
	static uint64_t heads[MS_SHM_RINGS];
	static bool busy[MS_SHM_RINGS];
	static uint16_t taken[MS_SHM_RINGS];
	static struct ms_event batch[BATCH];
	uint64_t before = mono_ns() - QUIET_MARGIN_NS;
	unsigned q, k, n = 0, w, nb;
	size_t got = 0;

	/* the rings threads hold: the others are quiet (a thread that takes one after this
	 * look stamps its first record after before) */
	for (w = 0; w < MS_SHM_RINGS / 64; w++) {
		uint64_t bits = __atomic_load_n(&ip->shm->taken[w], __ATOMIC_ACQUIRE);

		for (q = w * 64; q < w * 64 + 64; q++, bits >>= 1)
			if (bits & 1)
				taken[n++] = (uint16_t)q;
			else
				fns->quiet(fns->ctx, (int)q, before);
	}
	/* where each is, then an anchor: every record read now was stamped before it, so its
	 * time is interpolated between two anchors, never extrapolated (a record read later
	 * would then be converted on another line, maybe before this one) */
	for (k = 0; k < n; k++) {
		q = taken[k];
		state[q] = __atomic_load_n(&ip->rings[q].state, __ATOMIC_ACQUIRE);
		/* busy before head: a writer not busy now stamps its next record after
		 * before; one busy may have stamped it long ago (preempted since) */
		busy[q] = __atomic_load_n(&ip->rings[q].busy, __ATOMIC_ACQUIRE);
		heads[q] = __atomic_load_n(&ip->rings[q].head, __ATOMIC_ACQUIRE);
	}
	take_anchor(ip);
	__atomic_fetch_add(&ip->shm->heartbeat, 1, __ATOMIC_RELEASE);
	if (ip->nending)
		memset(ip->in_use, 0, sizeof(ip->in_use));
	for (k = 0; k < n; k++) {
		struct ms_shm_ring *r = &ip->rings[taken[k]];
		const uint16_t *func;
		uint64_t head, tail;
		uint32_t st;
		bool ending;

		q = taken[k];
		st = state[q];
		head = heads[q];
		if (st == MS_SHM_FREE) { /* let go, its bit not yet cleared */
			fns->quiet(fns->ctx, (int)q, before);
			continue;
		}
		func = ring_funcs(ip, r, fns);
		for (tail = r->tail, nb = 0; tail != head; tail++) {
			/* the records were written on another CPU: their lines are asked for
			 * ahead of the copy (past head: a line the writer has not reached) */
			__builtin_prefetch(
				&r->rec[(tail + PREFETCH_AHEAD) & (MS_SHM_RING_RECORDS - 1)]);
			batch[nb] = r->rec[tail & (MS_SHM_RING_RECORDS - 1)];
			if (func && translate(ip, func, &batch[nb]))
				nb++;
			else
				ip->unnamed++;
			if (nb == BATCH) {
				fns->push(fns->ctx, (int)q, batch, nb);
				got += nb;
				nb = 0;
			}
			/* room for a writer that waits, before the whole ring is read */
			if (!(tail & (TAIL_EVERY - 1)))
				ms_inproc_set_tail(r, tail + 1);
		}
		if (nb)
			fns->push(fns->ctx, (int)q, batch, nb);
		got += nb;
		ms_inproc_set_tail(r, tail);
		/* a record in flight: not quiet until it is in (or the merge stops waiting) */
		if (!busy[q])
			fns->quiet(fns->ctx, (int)q, before);
		ending = r->proc < MS_SHM_PROCS && (ip->flags[r->proc] & PROC_ENDING);
		/* a thread that ended, or a process: nothing more comes */
		if (st == MS_SHM_CLOSED || ending)
			let_go(ip, q);
		else if (r->proc < MS_SHM_PROCS)
			ip->in_use[r->proc] = true;
	}
	/* the entries of processes that ended, once no ring holds them */
	for (k = 0; ip->nending && k < MS_SHM_PROCS; k++)
		if ((ip->flags[k] & PROC_ENDING) && !ip->in_use[k]) {
			ip->flags[k] = 0;
			ip->nending--;
			memset(ip->func[k], 0, sizeof(ip->func[k]));
			__atomic_store_n(&ip->shm->procs[k].ready, 0, __ATOMIC_RELAXED);
			__atomic_store_n(&ip->shm->procs[k].tgid, 0, __ATOMIC_RELEASE);
		}
	return got;
}

void ms_inproc_ended(struct ms_inproc *ip, pid_t pid, uint64_t ts)
{
	unsigned k;

	/* its entries registered before ts: not an image that exec started since */
	for (k = 0; k < MS_SHM_PROCS; k++) {
		const struct ms_shm_proc *p = &ip->shm->procs[k];

		if (__atomic_load_n(&p->tgid, __ATOMIC_ACQUIRE) == (uint32_t)pid &&
		    __atomic_load_n(&p->ready, __ATOMIC_ACQUIRE) &&
		    ms_inproc_tsc_ns(ip, p->since) < ts && !(ip->flags[k] & PROC_ENDING)) {
			ip->flags[k] |= PROC_ENDING;
			ip->nending++;
		}
	}
}

void ms_inproc_lost(const struct ms_inproc *ip, struct ms_inproc_lost *l)
{
	unsigned q;

	memset(l, 0, sizeof(*l));
	l->ring_full = ip->ring_full;
	for (q = 0; q < MS_SHM_RINGS; q++)
		l->ring_full += __atomic_load_n(&ip->rings[q].lost, __ATOMIC_RELAXED);
	l->no_ring = __atomic_load_n(&ip->shm->no_ring, __ATOMIC_RELAXED);
	l->no_proc = __atomic_load_n(&ip->shm->no_proc, __ATOMIC_RELAXED);
	l->unnamed = ip->unnamed;
	l->stacks = __atomic_load_n(&ip->shm->stacks.lost, __ATOMIC_RELAXED);
}

void ms_inproc_free(struct ms_inproc *ip)
{
	if (!ip)
		return;
	munmap(ip->shm, MS_SHM_SIZE);
	if (ip->stacks)
		munmap(ip->stacks, ip->stacks_bytes);
	close(ip->fd);
	free(ip);
}
