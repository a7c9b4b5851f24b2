/* test_inproc.c: the in-process source (inproc.c) reading rings written as the preloaded
 * library writes them: functions named from the process' entry, the TSC on CLOCK_MONOTONIC,
 * rings and entries let go, losses counted; then the library itself (libmemscope-preload.so)
 * in a real program, launched, whose ground truth the records must equal */
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <jansson.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>
#include "elfsym.h"
#include "inproc.h"
#include "memscope_shm.h"
#include "stacktab.h"
#include "unit.h"

extern char **environ;

/* The region as the library sees it: the file mapped by the test */
#include <sys/mman.h>
#include <fcntl.h>

static struct ms_shm_header *map_shm(const char *path)
{
	int fd = open(path, O_RDWR);
	void *p;

	ck_assert_int_ge(fd, 0);
	p = mmap(NULL, MS_SHM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	ck_assert_ptr_ne(p, MAP_FAILED);
	return p;
}

static struct ms_shm_ring *ring_of(struct ms_shm_header *h, unsigned q)
{
	return (struct ms_shm_ring *)((char *)h + MS_SHM_RINGS_OFFSET) + q;
}

/* What the test's daemon side got */
struct got {
	struct ms_event ev[8192];
	int q[8192];
	unsigned n, quiet;
	bool quiet_q[MS_SHM_RINGS]; /* each ring's, since last cleared */
	uint64_t quiet_ts;	    /* the last time given */
	char path[64];
};

/* Functions by the offset they start at: malloc at 0x100, free at 0x200, ... */
static unsigned resolve(void *ctx, const char *path, uint64_t off)
{
	struct got *g = ctx;

	snprintf(g->path, sizeof(g->path), "%s", path);
	return off >= 0x100 && off < 0x1000 ? (unsigned)(off / 0x100) + 40 : 0;
}

static void push(void *ctx, int q, const struct ms_event *v, size_t n)
{
	struct got *g = ctx;
	size_t i;

	ck_assert_uint_gt(n, 0);
	for (i = 0; i < n; i++) {
		ck_assert_uint_lt(g->n, 8192);
		g->q[g->n] = q;
		g->ev[g->n++] = v[i];
	}
}

static void quiet(void *ctx, int q, uint64_t ts)
{
	struct got *g = ctx;

	g->quiet++;
	g->quiet_q[q] = true;
	g->quiet_ts = ts;
}

static uint64_t mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* A process entry at k for pid 77: malloc at 0x100 of /lib/fake.so, free at 0x200, calloc
 * in no object */
static void fake_proc(struct ms_shm_header *h, unsigned k)
{
	struct ms_shm_proc *p = &h->procs[k];
	unsigned f;

	p->tgid = 77;
	p->since = __rdtsc();
	strcpy(p->obj[0], "/lib/fake.so");
	for (f = 0; f < MS_IP_NFN; f++)
		p->fn[f].obj = MS_SHM_NO_OBJ;
	p->fn[MS_IP_MALLOC].obj = 0;
	p->fn[MS_IP_MALLOC].file_off = 0x100;
	p->fn[MS_IP_FREE].obj = 0;
	p->fn[MS_IP_FREE].file_off = 0x200;
	p->ready = 1;
}

/* Ring q, taken by thread tid of pid 77, whose entry is proc, as a writer takes it */
static struct ms_shm_ring *taken_ring(struct ms_shm_header *h, unsigned q, uint32_t proc,
				      uint32_t tid)
{
	struct ms_shm_ring *r = ring_of(h, q);

	r->tgid = 77;
	r->tid = tid;
	r->proc = proc;
	r->state = MS_SHM_TAKEN;
	h->taken[q / 64] |= 1ULL << (q % 64);
	return r;
}

static void put(struct ms_shm_ring *r, uint8_t type, uint16_t fn, uint64_t ptr, uint64_t size)
{
	struct ms_event *e = &r->rec[r->head & (MS_SHM_RING_RECORDS - 1)];

	memset(e, 0, sizeof(*e));
	e->type = type;
	e->flags = MS_EVF_INPROC;
	e->func = fn;
	e->tgid = r->tgid;
	e->tid = r->tid;
	e->ts_ns = __rdtsc();
	e->a.ptr = ptr;
	e->a.size = size;
	e->stack_id = -1;
	r->head++;
}

START_TEST(rings_read_named_and_let_go)
{
	static struct got g;
	struct ms_inproc_fns fns = { resolve, push, quiet, &g };
	struct ms_inproc *ip = ms_inproc_new("/tmp");
	struct ms_inproc_lost l;
	struct ms_shm_header *h;
	struct ms_shm_ring *r;
	struct stat st;
	uint64_t t0;

	ck_assert_ptr_nonnull(ip);
	ck_assert_int_eq(stat(ms_inproc_path(ip), &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0600);
	ck_assert_uint_eq(st.st_nlink, 0); /* nothing left behind */
	ck_assert_uint_eq(st.st_size, MS_SHM_SIZE);
	h = map_shm(ms_inproc_path(ip));
	ck_assert_uint_eq(h->magic, MS_SHM_MAGIC);
	ck_assert_uint_eq(h->nrings, MS_SHM_RINGS);

	/* the TSC on CLOCK_MONOTONIC: within 100 us of a clock read beside it */
	t0 = mono();
	ck_assert_uint_lt(llabs((long long)(ms_inproc_tsc_ns(ip, __rdtsc()) - t0)), 100000);

	/* a thread's ring: three records, one of a function the process has not */
	fake_proc(h, 9);
	r = taken_ring(h, 5, 9, 78);
	t0 = mono();
	put(r, MS_EV_ALLOC, MS_IP_MALLOC, 0x5000, 24);
	put(r, MS_EV_ALLOC, MS_IP_CALLOC, 0x6000, 32);
	put(r, MS_EV_FREE, MS_IP_FREE, 0x5000, 0);
	ck_assert_uint_eq(ms_inproc_read(ip, &fns), 2);
	ck_assert_uint_eq(g.n, 2);
	ck_assert_str_eq(g.path, "/lib/fake.so");
	/* as the BPF programs write them: catalog ids, no INPROC flag, CLOCK_MONOTONIC */
	ck_assert_int_eq(g.q[0], 5);
	ck_assert_uint_eq(g.ev[0].func, 41);
	ck_assert_uint_eq(g.ev[1].func, 42);
	ck_assert_uint_eq(g.ev[1].type, MS_EV_FREE);
	ck_assert_uint_eq(g.ev[0].flags, 0);
	ck_assert_uint_eq(g.ev[0].tgid, 77);
	ck_assert_uint_eq(g.ev[0].a.size, 24);
	ck_assert_uint_le(t0 - 100000, g.ev[0].ts_ns);
	ck_assert_uint_le(g.ev[0].ts_ns, g.ev[1].ts_ns);
	ck_assert_uint_lt(g.ev[1].ts_ns, mono());
	ck_assert_uint_eq(g.quiet, MS_SHM_RINGS);
	ck_assert_uint_eq(r->tail, 3);
	ms_inproc_lost(ip, &l);
	ck_assert_uint_eq(l.unnamed, 1);

	/* the thread ends: its ring is read to the end and freed, its losses kept */
	r->lost = 4;
	put(r, MS_EV_ALLOC, MS_IP_MALLOC, 0x7000, 8);
	__atomic_store_n(&r->state, MS_SHM_CLOSED, __ATOMIC_RELEASE);
	g.n = 0;
	ck_assert_uint_eq(ms_inproc_read(ip, &fns), 1);
	ck_assert_uint_eq(r->state, MS_SHM_FREE);
	ck_assert_uint_eq(r->head, 0);
	ck_assert_uint_eq(r->tail, 0);
	ck_assert_uint_eq(r->proc, MS_SHM_NO_PROC);
	ck_assert_uint_eq(h->taken[0], 0); /* not looked at again until a thread takes it */
	ms_inproc_lost(ip, &l);
	ck_assert_uint_eq(l.ring_full, 4);

	/* the process ends: its entry is let go (no ring holds it) */
	ms_inproc_ended(ip, 77, mono());
	ms_inproc_read(ip, &fns);
	ck_assert_uint_eq(h->procs[9].tgid, 0);
	ck_assert_uint_eq(h->procs[9].ready, 0);

	munmap(h, MS_SHM_SIZE);
	ms_inproc_free(ip);
}
END_TEST

/* A writer preempted after it stamped a record, before the record is in head (its ring
 * busy): the ring is read but not quiet, so the merge holds the other rings' later records
 * back; once the record is in and the mark cleared, it comes with a time before the quiet
 * time the other rings were given, and the ring is quiet again */
START_TEST(busy_ring_not_quiet)
{
	static struct got g;
	struct ms_inproc_fns fns = { resolve, push, quiet, &g };
	struct ms_inproc *ip = ms_inproc_new("/tmp");
	struct timespec pause = { 0, 3 * 1000 * 1000 }; /* past the 1 ms margin */
	struct ms_shm_header *h;
	struct ms_shm_ring *r;
	uint64_t quiet_then;

	ck_assert_ptr_nonnull(ip);
	h = map_shm(ms_inproc_path(ip));
	fake_proc(h, 3);
	r = taken_ring(h, 7, 3, 79);
	put(r, MS_EV_ALLOC, MS_IP_MALLOC, 0x5000, 24);
	/* the next record stamped, the thread preempted before head moves */
	r->busy = 1;
	put(r, MS_EV_FREE, MS_IP_FREE, 0x5000, 0);
	r->head--;
	nanosleep(&pause, NULL);
	ck_assert_uint_eq(ms_inproc_read(ip, &fns), 1);
	ck_assert_uint_eq(g.quiet, MS_SHM_RINGS - 1);
	ck_assert(!g.quiet_q[7]);
	ck_assert(g.quiet_q[6] && g.quiet_q[8]);
	quiet_then = g.quiet_ts;

	/* it runs on: the record is in, the mark cleared */
	r->head++;
	r->busy = 0;
	memset(g.quiet_q, 0, sizeof(g.quiet_q));
	ck_assert_uint_eq(ms_inproc_read(ip, &fns), 1);
	ck_assert_uint_eq(g.ev[1].type, MS_EV_FREE);
	ck_assert_uint_lt(g.ev[1].ts_ns, quiet_then); /* what the merge had to wait for */
	ck_assert(g.quiet_q[7]);
	ck_assert_uint_eq(r->tail, 2);

	/* a ring let go while busy (its process ended) is taken again not busy */
	r->busy = 1;
	__atomic_store_n(&r->state, MS_SHM_CLOSED, __ATOMIC_RELEASE);
	ms_inproc_read(ip, &fns);
	ck_assert_uint_eq(r->state, MS_SHM_FREE);
	ck_assert_uint_eq(r->busy, 0);
	ck_assert_uint_eq(h->taken[0], 0);

	munmap(h, MS_SHM_SIZE);
	ms_inproc_free(ip);
}
END_TEST

/* A record stamped long before it is read (its writer preempted in the middle of it, more
 * reads ago than anchors are kept): its time is on the clock's line, within 20 us of a clock
 * read beside the TSC then, not off by a short step's slope times the distance */
START_TEST(old_tsc_on_the_line)
{
	static struct got g;
	struct ms_inproc_fns fns = { resolve, push, quiet, &g };
	struct ms_inproc *ip = ms_inproc_new("/tmp");
	uint64_t tsc, ns, got_ns, t1;
	unsigned i;

	ck_assert_ptr_nonnull(ip);
	do { /* not interrupted in between */
		tsc = __rdtsc();
		ns = mono();
		t1 = __rdtsc();
	} while (t1 - tsc > 20000);
	tsc += (t1 - tsc) / 2;
	for (i = 0; i < 3000; i++)
		ms_inproc_read(ip, &fns);
	got_ns = ms_inproc_tsc_ns(ip, tsc);
	ck_assert_uint_lt(llabs((long long)(got_ns - ns)), 20000);
	ms_inproc_free(ip);
}
END_TEST

/* A writer asleep for room, as shim.c's wait_room: want set, then a futex wait on wake */
struct sleeper {
	struct ms_shm_ring *r;
	pid_t tid;
	long ret;
	int err;
};

static void *sleep_for_room(void *arg)
{
	struct sleeper *z = arg;
	const struct timespec limit = { 5, 0 };
	uint32_t seq = __atomic_load_n(&z->r->wake, __ATOMIC_ACQUIRE);

	__atomic_store_n(&z->tid, (pid_t)syscall(SYS_gettid), __ATOMIC_RELEASE);
	__atomic_store_n(&z->r->want, 10, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&z->r->tail, __ATOMIC_ACQUIRE) >= 10)
		return NULL;
	z->ret = syscall(SYS_futex, &z->r->wake, FUTEX_WAIT, seq, &limit, NULL, 0);
	z->err = errno;
	return NULL;
}

/* Thread tid's state letter (R, S, ...), or 0 */
static char task_state(pid_t tid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : 0;
}

/* The daemon's side of block mode's wait: a tail short of what the writer waits for wakes
 * nobody; one past it takes want back to 0, moves wake and wakes the writer asleep on it */
START_TEST(full_ring_writer_woken)
{
	struct ms_inproc *ip = ms_inproc_new("/tmp");
	struct ms_shm_header *h;
	struct sleeper z = { 0 };
	pthread_t th;
	int i;

	ck_assert_ptr_nonnull(ip);
	h = map_shm(ms_inproc_path(ip));
	z.r = ring_of(h, 3);
	ck_assert_int_eq(pthread_create(&th, NULL, sleep_for_room, &z), 0);
	/* asleep in the futex wait (S), 2 s at most */
	for (i = 0; i < 2000; i++) {
		pid_t tid = __atomic_load_n(&z.tid, __ATOMIC_ACQUIRE);

		if (tid && __atomic_load_n(&z.r->want, __ATOMIC_ACQUIRE) && task_state(tid) == 'S')
			break;
		usleep(1000);
	}
	ck_assert_int_lt(i, 2000);
	ms_inproc_set_tail(z.r, 5);
	ck_assert_uint_eq(z.r->tail, 5);
	ck_assert_uint_eq(z.r->want, 10);
	ck_assert_uint_eq(z.r->wake, 0);
	ms_inproc_set_tail(z.r, 10);
	ck_assert_uint_eq(z.r->want, 0);
	ck_assert_uint_eq(z.r->wake, 1);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	ck_assert_msg(z.ret == 0, "the writer's futex wait: %ld (%s), not woken", z.ret,
		      strerror(z.err));
	munmap(h, MS_SHM_SIZE);
	ms_inproc_free(ip);
}
END_TEST

/* The build's directory (of this binary): the library and the workloads are there */
static void build_dir(char *out, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	ck_assert_int_gt(n, 0);
	self[n] = '\0';
	slash = strrchr(self, '/');
	*slash = '\0';
	snprintf(out, len, "%s", self);
}

/* prog run with argv and envp, its stdout into a new file made from the template out
 * (its descriptor in *fd): its pid */
static pid_t spawn_to_file(const char *prog, char *const argv[], char *const envp[], char *out,
			   int *fd)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;

	*fd = mkstemp(out);
	ck_assert_int_ge(*fd, 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, *fd, 1);
	ck_assert_int_eq(posix_spawn(&pid, prog, &fa, NULL, argv, envp), 0);
	posix_spawn_file_actions_destroy(&fa);
	return pid;
}

static const char *const libc_fns[] = { "malloc",	"calloc",	  "realloc",
					"reallocarray", "posix_memalign", "aligned_alloc",
					"memalign",	"valloc",	  "pvalloc",
					"free" };
#define NLIBC (sizeof(libc_fns) / sizeof(libc_fns[0]))
static uint64_t libc_off[NLIBC];

/* A libc function's id: its index in libc_fns + 1 (aligned_alloc and memalign, one
 * address: the first's) */
static unsigned resolve_libc(void *ctx, const char *path, uint64_t off)
{
	struct got *g = ctx;
	unsigned i;

	snprintf(g->path, sizeof(g->path), "%s", path);
	for (i = 0; i < NLIBC; i++)
		if (libc_off[i] == off)
			return i + 1;
	return 0;
}

/* launched 20 with the library preloaded (no daemon, no root): per function, the records
 * that count as calls equal its ground truth's by_func. With stacks (--stacks, sampled with
 * a mean of sample bytes when not 0): every allocation's record names a stack of the table,
 * from its caller to main and beyond, or, not in the sample, none (MS_EVF_UNSAMPLED); the
 * walks' own calls (libunwind's loading, its caches) are not recorded: the counts are the
 * same */
static void preloaded_program(bool stacks, uint64_t sample)
{
	static struct got g;
	struct ms_inproc_fns fns = { resolve_libc, push, quiet, &g };
	struct ms_inproc *ip = ms_inproc_new("/tmp");
	char dir[PATH_MAX], lib[PATH_MAX + 64], prog[PATH_MAX + 64], pre[PATH_MAX + 80], shm[200],
		out[] = "/tmp/ms-inproc-unit-XXXXXX", buf[8192], key[64];
	/* few enough calls for one ring: read only after the program ends */
	char *argv[] = { prog, (char *)"20", NULL };
	char *envp[] = { pre, shm, NULL };
	unsigned calls[NLIBC + 1] = { 0 }, i, nested = 0;
	struct ms_elf_query q[NLIBC] = { { 0 } };
	struct ms_elf_func found[NLIBC];
	struct ms_inproc_lost lost;
	struct ms_shm_stacks shape;
	const void *table;
	unsigned walked = 0, unsampled = 0;
	Dl_info info;
	json_t *gt, *by_func;
	void *libc;
	int fd, status;
	ssize_t n;
	pid_t pid;

	ck_assert_ptr_nonnull(ip);
	/* the functions' offsets in libc's file, from its symbol tables (elfsym.c: where the
	 * uprobes go), not as the library finds them (its loaded segments) */
	libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
	ck_assert_ptr_nonnull(libc);
	ck_assert_int_ne(dladdr(dlsym(libc, "malloc"), &info), 0);
	for (i = 0; i < NLIBC; i++)
		q[i].name = libc_fns[i];
	ck_assert_int_eq(ms_elf_lookup_query(info.dli_fname, q, NLIBC, found), NLIBC);
	for (i = 0; i < NLIBC; i++)
		libc_off[i] = found[i].file_off;
	build_dir(dir, sizeof(dir));
	snprintf(lib, sizeof(lib), "%s/libmemscope-preload.so", dir);
	snprintf(prog, sizeof(prog), "%s/workloads/launched", dir);
	ck_assert_msg(!access(lib, R_OK) && !access(prog, X_OK), "no %s or %s: make all", lib,
		      prog);
	snprintf(pre, sizeof(pre), "LD_PRELOAD=%s", lib);
	snprintf(shm, sizeof(shm), "%s=%s", MS_SHM_ENV, ms_inproc_path(ip));
	ms_inproc_set_root(ip, 0, true);
	memset(&g, 0, sizeof(g));
	if (stacks)
		ck_assert_int_eq(ms_inproc_set_stacks(ip, 1024, 32, sample), 0);
	pid = spawn_to_file(prog, argv, envp, out, &fd);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	unlink(out);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	gt = json_loads(buf, JSON_DISABLE_EOF_CHECK, NULL);
	ck_assert_ptr_nonnull(gt);
	by_func = json_object_get(gt, "by_func");
	ck_assert_ptr_nonnull(by_func);

	ms_inproc_read(ip, &fns);
	ms_inproc_lost(ip, &lost);
	ck_assert_uint_eq(lost.ring_full + lost.no_ring + lost.no_proc + lost.unnamed, 0);
	ck_assert_ptr_nonnull(strstr(g.path, "libc.so"));
	ck_assert_uint_gt(g.n, 0);
	for (i = 0; i < g.n; i++) {
		const struct ms_event *e = &g.ev[i];

		ck_assert_uint_eq(e->tgid, (unsigned)pid);
		ck_assert_uint_ge(e->func, 1);
		ck_assert_uint_le(e->func, NLIBC);
		/* a realloc is one call: its return */
		if (e->type != MS_EV_REALLOC_ENTER)
			calls[e->func]++;
		/* glibc's reallocarray calls realloc through the PLT: a second view of the
		 * program's call, inside libc, not recorded (as the BPF programs do) */
		nested += !!(e->flags & MS_EVF_NESTED);
		if (i)
			ck_assert_uint_le(g.ev[i - 1].ts_ns, e->ts_ns);
		if (e->type != MS_EV_ALLOC && e->type != MS_EV_REALLOC) {
			ck_assert_int_eq(e->stack_id, -1);
		} else if (!stacks || (e->flags & MS_EVF_UNSAMPLED)) {
			ck_assert_int_eq(e->stack_id, -1);
			ck_assert(stacks || !(e->flags & MS_EVF_UNSAMPLED));
			unsampled++;
		} else {
			const uint64_t *frames;
			unsigned nr = 0;

			table = ms_inproc_stacks(ip, &shape);
			frames = ms_stacktab_get(&shape, table, e->stack_id, &nr);
			ck_assert_msg(frames, "record %u (type %u): stack_id %#x", i, e->type,
				      (unsigned)e->stack_id);
			/* the function, its caller, main, __libc_start_call_main, ... */
			ck_assert_uint_ge(nr, 4);
			ck_assert_uint_eq(frames[1], e->caller);
			walked++;
		}
	}
	ms_inproc_lost(ip, &lost);
	ck_assert_uint_eq(lost.stacks, 0);
	if (sample) /* launched's allocations: a few in the sample, most not */
		ck_assert(walked > 0 && unsampled > walked);
	else if (stacks)
		ck_assert(walked > 0 && unsampled == 0);
	else
		ck_assert(walked == 0 && unsampled > 0);
	for (i = 0; i < NLIBC; i++) {
		const char *name = libc_fns[i];
		unsigned want;

		if (!strcmp(name, "memalign"))
			continue; /* aligned_alloc's address: counted with it */
		snprintf(key, sizeof(key), "%s",
			 strcmp(name, "aligned_alloc") ? name : "aligned_alloc/memalign");
		want = json_integer_value(json_object_get(by_func, key));
		ck_assert_msg(calls[i + 1] == want, "%s: %u records, its ground truth %u calls",
			      key, calls[i + 1], want);
	}
	ck_assert_uint_eq(nested, 0);
	json_decref(gt);
	ms_inproc_free(ip);
}

START_TEST(preloaded_program_plain)
{
	preloaded_program(false, 0);
}
END_TEST

START_TEST(preloaded_program_stacks)
{
	preloaded_program(true, 0);
}
END_TEST

START_TEST(preloaded_program_sampled)
{
	preloaded_program(true, 4096);
}
END_TEST

/* Places the family test's records name: (object, file offset), numbered from 1 */
struct places {
	unsigned n;
	char path[MS_IP_NFN][PATH_MAX];
	uint64_t off[MS_IP_NFN];
};

static struct places places;

static unsigned resolve_place(void *ctx, const char *path, uint64_t off)
{
	unsigned i;

	for (i = 0; i < places.n; i++)
		if (places.off[i] == off && !strcmp(places.path[i], path))
			return i + 1;
	ck_assert_uint_lt(places.n, MS_IP_NFN);
	snprintf(places.path[places.n], PATH_MAX, "%s", path);
	places.off[places.n] = off;
	return ++places.n;
}

/* The file's contents once it holds a line that starts with c (10 s at most, then the
 * program writing it is killed) */
static void wait_line(int fd, char c, char *buf, size_t len, pid_t pid)
{
	unsigned tries;
	ssize_t n;

	for (tries = 0; tries < 1000; tries++) {
		n = pread(fd, buf, len - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
		if (n > 0 && (buf[0] == c || strstr(buf, (char[]){ '\n', c, '\0' })))
			return;
		usleep(10 * 1000);
	}
	kill(pid, SIGKILL);
	ck_abort_msg("no line starting with '%c' in 10 s: %s", c, buf);
}

/*
 * An apimix workload linked with an allocator (tests/e2e/workloads/NAME_api.c), with
 * libmemscope-preload.so and that family's library preloaded (no daemon, no root): its
 * window's records, per place, equal its ground truth's calls per function (aliases, one
 * place, summed), every place recorded in the allocator's object, none nested, nothing lost. A family
 * library that forwarded to itself would never return.
 */
/* The symbol of a ground truth's function: its own name, or a C++ operator's mangled name
 * for its demangled one (apimix.h names jemalloc's operators as the tracer does) */
static const char *symbol_of(const char *name)
{
	static const char *const cxx[][2] = {
		{ "operator new(unsigned long)", "_Znwm" },
		{ "operator new[](unsigned long)", "_Znam" },
		{ "operator delete(void*)", "_ZdlPv" },
		{ "operator delete[](void*)", "_ZdaPv" },
		{ "operator delete(void*, unsigned long)", "_ZdlPvm" },
		{ "operator delete[](void*, unsigned long)", "_ZdaPvm" },
	};
	size_t i;

	for (i = 0; i < sizeof(cxx) / sizeof(cxx[0]); i++)
		if (!strcmp(name, cxx[i][0]))
			return cxx[i][1];
	return name;
}

static void family_program(const char *family, const char *allocator_so)
{
	static struct got g;
	struct ms_inproc_fns fns = { resolve_place, push, quiet, &g };
	struct ms_inproc *ip = ms_inproc_new("/tmp");
	char dir[PATH_MAX], prog[PATH_MAX + 64], pre[3 * PATH_MAX], shm[200], buf[16384],
		out[] = "/tmp/ms-inproc-unit-XXXXXX", *line;
	char *argv[] = { prog, (char *)"5", NULL };
	char *envp[] = { pre, shm, NULL };
	unsigned calls[MS_IP_NFN + 1] = { 0 }, want[MS_IP_NFN + 1] = { 0 }, i, n0;
	struct ms_inproc_lost lost;
	json_t *gt, *by_func, *v;
	const char *key;
	int fd, status;
	pid_t pid;

	ck_assert_ptr_nonnull(ip);
	memset(&g, 0, sizeof(g));
	places.n = 0;
	build_dir(dir, sizeof(dir));
	snprintf(prog, sizeof(prog), "%s/workloads/%s_api", dir, family);
	snprintf(pre, sizeof(pre),
		 "LD_PRELOAD=%s/libmemscope-preload.so %s/libmemscope-preload-%s.so", dir, dir,
		 family);
	ck_assert_msg(!access(prog, X_OK), "no %s: make all", prog);
	snprintf(shm, sizeof(shm), "%s=%s", MS_SHM_ENV, ms_inproc_path(ip));
	ms_inproc_set_root(ip, 0, true);
	pid = spawn_to_file(prog, argv, envp, out, &fd);
	/* the records before the window (its start-up) are read first and left out */
	wait_line(fd, 'r', buf, sizeof(buf), pid);
	ms_inproc_read(ip, &fns);
	n0 = g.n;
	kill(pid, SIGUSR1);
	wait_line(fd, '{', buf, sizeof(buf), pid);
	ms_inproc_read(ip, &fns);
	kill(pid, SIGUSR2);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(fd);
	unlink(out);
	line = strchr(buf, '{');
	gt = json_loads(line, JSON_DISABLE_EOF_CHECK, NULL);
	ck_assert_ptr_nonnull(gt);
	by_func = json_object_get(gt, "by_func");
	ck_assert_ptr_nonnull(by_func);

	ms_inproc_lost(ip, &lost);
	ck_assert_uint_eq(lost.ring_full + lost.no_ring + lost.no_proc + lost.unnamed, 0);
	ck_assert_uint_gt(g.n, n0);
	for (i = n0; i < g.n; i++) {
		const struct ms_event *e = &g.ev[i];

		ck_assert_uint_eq(e->tgid, (unsigned)pid);
		ck_assert_uint_eq(e->flags & MS_EVF_NESTED, 0);
		ck_assert_uint_ge(e->func, 1);
		ck_assert_uint_le(e->func, places.n);
		if (e->type != MS_EV_REALLOC_ENTER)
			calls[e->func]++;
	}
	/* each function of the ground truth at its place in the allocator's object */
	json_object_foreach(by_func, key, v)
	{
		struct ms_elf_func f;
		const char *name = symbol_of(key);
		unsigned k;

		ck_assert_int_eq(ms_elf_lookup(allocator_so, &name, 1, &f), 1);
		for (k = 0; k < places.n; k++)
			if (places.off[k] == f.file_off)
				break;
		ck_assert_msg(k < places.n, "%s: %s has no record", family, key);
		want[k + 1] += json_integer_value(v);
	}
	for (i = 1; i <= places.n; i++) {
		/* /usr/lib/... as /lib/... (merged /usr) */
		ck_assert_msg(!calls[i] ||
				      strstr(places.path[i - 1], allocator_so + strlen("/usr")),
			      "%s: a record names %s", family, places.path[i - 1]);
		ck_assert_msg(calls[i] == want[i], "%s: %u records at %#lx, its ground truth %u",
			      family, calls[i], (unsigned long)places.off[i - 1], want[i]);
	}
	json_decref(gt);
	ms_inproc_free(ip);
}

START_TEST(families_preloaded)
{
	family_program("jemalloc", "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2");
	family_program("tcmalloc", "/usr/lib/x86_64-linux-gnu/libtcmalloc.so.4");
	family_program("mimalloc", "/usr/lib/x86_64-linux-gnu/libmimalloc.so.2");
}
END_TEST

Suite *inproc_suite(void)
{
	Suite *s = suite_create("inproc");
	TCase *tc = tcase_create("rings");

	tcase_add_test(tc, rings_read_named_and_let_go);
	tcase_add_test(tc, busy_ring_not_quiet);
	tcase_add_test(tc, old_tsc_on_the_line);
	tcase_add_test(tc, full_ring_writer_woken);
	tcase_add_test(tc, preloaded_program_plain);
	tcase_add_test(tc, preloaded_program_stacks);
	tcase_add_test(tc, preloaded_program_sampled);
	tcase_add_test(tc, families_preloaded);
	suite_add_tcase(s, tc);
	return s;
}
