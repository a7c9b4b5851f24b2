/* shim.c: the in-process libraries' shared part, linked into libmemscope-preload.so (its one
 * copy): the real functions' look-up, the shared region, each thread's ring and the records
 * written into it, nesting, the process' registration (shim.h).
 *
 * The fast path takes no lock, makes no system call and allocates nothing: a TSC read (the
 * daemon turns it into CLOCK_MONOTONIC), a CPU number from rseq (sched_getcpu), one store
 * of 64 bytes and one release store. A full
 * ring counts the record as lost; a daemon that is gone leaves the rings full: the program
 * runs on, untraced. Without the region (no MEMSCOPE_SHM, a bad one), calls are forwarded
 * and nothing else. */
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <stdio.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <x86intrin.h>
#include "shim.h"

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
static pthread_key_t ring_key;
static uint32_t my_proc = MS_SHM_NO_PROC; /* this process' entry */

/* A thread's ring and call depth. initial-exec: no allocation on first use. */
struct tls {
	struct ms_shm_ring *ring;
	uint32_t tid;
	uint16_t depth;	   /* interposed calls in progress on this thread */
	uint16_t outer;	   /* the outermost one's function */
	uint32_t retry_at; /* no free ring: records skipped before looking again */
	bool in_init;
};
static __thread struct tls tls __attribute__((tls_model("initial-exec")));

static void close_ring(void *r)
{
	struct ms_shm_ring *ring = r;

	if (ring && ring == tls.ring) {
		__atomic_store_n(&ring->state, MS_SHM_CLOSED, __ATOMIC_RELEASE);
		tls.ring = NULL;
	}
}

/* A free ring for this thread (or NULL: all taken, counted) */
static struct ms_shm_ring *take_ring(void)
{
	uint32_t tid, i, n = shm->nrings;

	if (tls.retry_at) {
		tls.retry_at--;
		__atomic_fetch_add(&shm->no_ring, 1, __ATOMIC_RELAXED);
		return NULL;
	}
	tid = tls.tid ? tls.tid : (tls.tid = (uint32_t)syscall(SYS_gettid));
	for (i = 0; i < n; i++) {
		struct ms_shm_ring *r = &rings[(tid + i) % n];
		uint32_t free_state = MS_SHM_FREE;

		if (__atomic_load_n(&r->state, __ATOMIC_RELAXED) != MS_SHM_FREE ||
		    !__atomic_compare_exchange_n(&r->state, &free_state, MS_SHM_TAKEN, false,
						 __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
			continue;
		r->tgid = (uint32_t)getpid();
		r->tid = tid;
		r->proc = my_proc; /* the daemon zeroed head, tail and lost when it freed it */
		tls.ring = r;
		pthread_setspecific(ring_key, r);
		return r;
	}
	tls.retry_at = 4096;
	__atomic_fetch_add(&shm->no_ring, 1, __ATOMIC_RELAXED);
	return NULL;
}

/* The next definition of each interposed function (0: none), and the object it is in (its
 * entry's obj), for MS_SHIM_SKIP */
static uintptr_t real_at[MS_IP_NFN];
static uint8_t fn_obj[MS_IP_NFN];

/* A full ring: with the daemon's block, wait until it has read some (true), unless it
 * stops reading for a second (gone, or stopped): false, the record is lost */
static bool daemon_gone; /* it stopped reading while a writer waited: wait no more */

static bool wait_room(struct ms_shm_ring *r, uint64_t head)
{
	uint64_t beat, since = __rdtsc();

	if (!shm->block || daemon_gone)
		return false;
	beat = __atomic_load_n(&shm->heartbeat, __ATOMIC_ACQUIRE);
	while (head - __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE) >= MS_SHM_RING_RECORDS) {
		uint64_t now = __rdtsc(), b = __atomic_load_n(&shm->heartbeat, __ATOMIC_ACQUIRE);

		if (b != beat) {
			beat = b;
			since = now;
		} else if (now - since > (1ULL << 32)) { /* about a second at 4 GHz, 2 at 2 */
			daemon_gone = true;
			return false;
		}
		sched_yield();
	}
	return true;
}

void ms_shim_emit(uint8_t type, uint8_t flags, uint16_t fn, uint64_t ptr, uint64_t size,
		  uint64_t ret, uint64_t caller)
{
	struct ms_shm_ring *r = tls.ring;
	struct ms_event *e;
	uint64_t head;
	int cpu;

	if (flags & MS_SHIM_SKIP)
		return;
	if (unlikely(!r) && !(r = take_ring()))
		return;
	head = r->head;
	if (unlikely(head - __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE) >= MS_SHM_RING_RECORDS) &&
	    !wait_room(r, head)) {
		r->lost++;
		return;
	}
	e = &r->rec[head & (MS_SHM_RING_RECORDS - 1)];
	cpu = sched_getcpu();
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
	e->stack_id = -1;
	e->outer_func = flags & MS_EVF_NESTED ? tls.outer : 0;
	e->pad = 0;
	e->caller = caller;
	__atomic_store_n(&r->head, head + 1, __ATOMIC_RELEASE);
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
	if (state != ST_ON)
		return;
	if (!shm->follow) /* a child of the command, not traced: calls forwarded only */
		__atomic_store_n(&state, ST_OFF, __ATOMIC_RELEASE);
	else
		register_process();
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
	close(fd);
	if (p == MAP_FAILED)
		return NULL;
	shm = p;
	if (shm->magic != MS_SHM_MAGIC || shm->version != MS_SHM_VERSION ||
	    shm->nrings != MS_SHM_RINGS || shm->ring_records != MS_SHM_RING_RECORDS ||
	    shm->nprocs != MS_SHM_PROCS) {
		munmap(p, MS_SHM_SIZE);
		shm = NULL;
		return NULL;
	}
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

bool ms_shim_ready(void)
{
	int s = __atomic_load_n(&state, __ATOMIC_ACQUIRE);

	if (likely(s >= ST_ON))
		return true;
	if (tls.in_init)
		return false;
	init();
	return __atomic_load_n(&state, __ATOMIC_ACQUIRE) >= ST_ON;
}

bool ms_shim_recording(void)
{
	return state == ST_ON;
}

uint8_t ms_shim_enter(uint16_t fn)
{
	if (tls.depth++ == 0) {
		tls.outer = fn;
		return 0;
	}
	return fn_obj[fn] == fn_obj[tls.outer] ? MS_SHIM_SKIP : MS_EVF_NESTED;
}

bool ms_shim_forwards_into(uint16_t fn, uint16_t anchor)
{
	return fn_obj[fn] != MS_SHM_NO_OBJ && fn_obj[fn] == fn_obj[anchor];
}

void ms_shim_leave(void)
{
	tls.depth--;
}
