// SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
/* memscope.bpf.c: generic entry/return programs for every traced allocator function */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "memscope.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Load-time settings, written by the daemon between open and load */
const volatile __u32 self_tgid = 0;	   /* the tracer: never traced (its callback allocates) */
const volatile bool filter_pids = false;   /* exec/exit events only for pids in ms_pids */
const volatile __u64 wakeup_bytes = 1;	   /* wake the consumer once this much is queued */
const volatile bool stacks = false;	   /* --stacks: a user stack id per allocation */
const volatile bool follow = false;	   /* -f: the children of processes in ms_pids join it */
const volatile __u8 unwind = MS_UNWIND_FP; /* --stack-unwind */
const volatile __u32 stack_depth = 32;	   /* --stack-depth */
const volatile __u32 stack_entries = 1;	   /* --stack-map-size: ids below it */
const volatile __u64 sample_bytes = 0;	   /* --sample-bytes: 0, every outermost call */
const volatile __u32 log2_q16[257];	   /* ms_sample_gap's table, from the daemon */

/* One pending traced call of a thread */
struct ms_frame {
	__u64 sp;	/* stack pointer at entry: a return matches when its sp is sp + 8 */
	__u64 cookie;	/* the function's attach cookie */
	__u64 size;	/* requested bytes */
	__u64 ptr;	/* old block (realloc kinds) or out-parameter address */
	__s64 stack_id; /* --stacks: its user stack, or -1 */
};

struct ms_thread {
	__u32 depth;
	__u32 pad;
	__s64 sample_left; /* --sample-bytes: bytes until the next sample; 0: not drawn yet */
	struct ms_frame f[MS_MAX_DEPTH];
};

#define MS_STACK_UNSAMPLED -2 /* a frame's stack_id: not in the sample */

/* One ring buffer per CPU: a CPU's programs never contend with another's for a
 * ring's lock and positions. The daemon merges the rings by timestamp. */
struct ms_ring {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20); /* set by the daemon: --ringbuf-size over the CPUs */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1); /* set by the daemon: the possible CPUs */
	__type(key, __u32);
	__array(values, struct ms_ring);
} ms_rings SEC(".maps");

/* The pending calls of each thread: task local storage, found from the task itself
 * (no hash of the tid), created at a thread's first traced call and freed with the task */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct ms_thread);
} ms_threads SEC(".maps");

/* Records submitted on each CPU since the last check of the ring buffer's fill */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} ms_submits SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 1); /* sized by the daemon with --stacks (--stack-map-size) */
	__uint(key_size, sizeof(__u32));
	__uint(value_size, 8); /* --stack-depth frames of 8 bytes */
} ms_stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MS_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} ms_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 32768);
	__type(key, __u32); /* tgid */
	__type(value, __u8);
} ms_pids SEC(".maps");

/* --stack-unwind dwarf|auto (include/memscope.h): the rows of every object, the objects,
 * each traced process' executable mappings; all written by the daemon (user/unwind.c) */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1); /* sized by the daemon (--unwind-rows) */
	__type(key, __u32);
	__type(value, struct ms_cfi_row);
} ms_cfi_rows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1); /* sized by the daemon */
	__type(key, __u32);
	__type(value, struct ms_cfi_obj);
} ms_cfi_objs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1); /* sized by the daemon */
	__type(key, __u32);	/* tgid */
	__type(value, struct ms_cfi_proc);
} ms_cfi_procs SEC(".maps");

struct ms_ustack {
	__u64 ip[MS_MAX_STACK_DEPTH];
};

/* The stacks the programs unwound, by id (the stack map's layout: frames, then zeros),
 * and the ids by a hash of their frames */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1); /* --stack-map-size */
	__type(key, __u32);
	__type(value, struct ms_ustack);
} ms_ustacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1); /* --stack-map-size */
	__type(key, __u64);
	__type(value, __u32);
} ms_ustack_ids SEC(".maps");

/* Each CPU's stack being unwound (too large for the BPF stack) */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ms_ustack);
} ms_unwind_scratch SEC(".maps");

__u32 ms_ustack_next = 0; /* the next id to give */

#define MS_SIGSTOP 19

/* Linux 6.13: a signal to another task. Only ms_fork_follow calls it, and the daemon
 * loads that program only where the kernel has it. */
extern int bpf_send_signal_task(struct task_struct *task, int sig, enum pid_type type,
				__u64 value) __ksym __weak;

static __always_inline void count(enum ms_counter c)
{
	__u32 key = c;
	__u64 *v = bpf_map_lookup_elem(&ms_counters, &key);

	if (v)
		*v += 1;
}

/* This CPU's ring buffer (programs run with migration disabled) */
static __always_inline void *ring(__u32 cpu)
{
	return bpf_map_lookup_elem(&ms_rings, &cpu);
}

static __always_inline struct ms_event *reserve(__u8 type, __u64 cookie, __u64 id)
{
	__u32 cpu = bpf_get_smp_processor_id();
	void *rb = ring(cpu);
	struct ms_event *e = rb ? bpf_ringbuf_reserve(rb, sizeof(*e), 0) : NULL;

	if (!e) {
		count(MS_CNT_RINGBUF_FULL);
		return NULL;
	}
	e->type = type;
	e->flags = 0;
	e->func = MS_CK_FUNC(cookie);
	e->cpu = cpu;
	e->node = bpf_get_numa_node_id();
	e->reserved = 0; /* include/memscope.h */
	e->tgid = id >> 32;
	e->tid = (__u32)id;
	e->ts_ns = bpf_ktime_get_ns();
	e->stack_id = -1;
	e->outer_func = 0;
	e->pad = 0;
	e->caller = 0;
	return e;
}

/* Submit without a wakeup per record: the consumer is woken past a fill threshold
 * and otherwise polls on a short timer. The fill is looked at every
 * MS_FILL_CHECK_EVERY records of a CPU: reading it costs more than the rest of a
 * submit, and the threshold (an eighth of the buffer) has room for the few records
 * a check comes late. */
#define MS_FILL_CHECK_EVERY 16
static __always_inline void submit(struct ms_event *e)
{
	__u32 zero = 0, *n = bpf_map_lookup_elem(&ms_submits, &zero);
	__u64 flags = BPF_RB_NO_WAKEUP;

	if (!n || (++*n & (MS_FILL_CHECK_EVERY - 1)) == 0) {
		void *rb = ring(e->cpu);

		if (rb && bpf_ringbuf_query(rb, BPF_RB_AVAIL_DATA) >= wakeup_bytes)
			flags = BPF_RB_FORCE_WAKEUP;
	}
	bpf_ringbuf_submit(e, flags);
}

/* The pending calls of the current thread; created when `create` */
static __always_inline struct ms_thread *thread_calls(__u64 create)
{
	return bpf_task_storage_get(&ms_threads, bpf_get_current_task_btf(), 0, create);
}

static __always_inline __u64 pick(unsigned i, __u64 a0, __u64 a1, __u64 a2, __u64 a3, __u64 a4,
				  __u64 a5)
{
	if (i == 0)
		return a0;
	if (i == 1)
		return a1;
	if (i == 2)
		return a2;
	if (i == 3)
		return a3;
	if (i == 4)
		return a4;
	if (i == 5)
		return a5;
	return 0;
}

/* The innermost pending call of thread t, or NULL */
static __always_inline struct ms_frame *top(struct ms_thread *t)
{
	__u32 d = t->depth;

	if (d == 0 || d > MS_MAX_DEPTH)
		return NULL;
	return &t->f[(d - 1) & (MS_MAX_DEPTH - 1)];
}

/*
 * Whether a call of allocator `alloc` made inside the pending call `outer` is a
 * second view of the same user request (reallocarray -> realloc inside libc): such a
 * call is not recorded at all. A call into another allocator is its backing.
 */
static __always_inline bool same_allocator(struct ms_frame *outer, __u64 cookie)
{
	return outer && MS_CK_ALLOCATOR(outer->cookie) == MS_CK_ALLOCATOR(cookie);
}

static __always_inline void mark_nested(struct ms_event *e, struct ms_frame *outer)
{
	if (!outer)
		return;
	e->flags |= MS_EVF_NESTED;
	e->outer_func = MS_CK_FUNC(outer->cookie);
}

/*
 * Records a block released at a call's entry (FREE, REALLOC_ENTER: ptr != 0, size the
 * realloc's new size or 0), nested in the pending call `outer` when there is one. A
 * record that cannot be reserved is counted lost (MS_CNT_RINGBUF_FULL).
 */
static __always_inline void emit_release(__u8 type, __u64 cookie, __u64 id, __u64 ptr, __u64 size,
					 struct ms_frame *outer)
{
	struct ms_event *e = reserve(type, cookie, id);

	if (!e)
		return;
	e->a.ptr = ptr;
	e->a.size = size;
	e->a.ret = 0;
	mark_nested(e, outer);
	submit(e);
}

static __always_inline int on_free(__u64 cookie, __u64 id, __u64 ptr)
{
	struct ms_thread *t;
	struct ms_frame *outer = NULL;

	if (!ptr)
		return 0;
	t = thread_calls(0);
	if (t)
		outer = top(t);
	if (same_allocator(outer, cookie) || (!outer && (cookie & MS_CK_BACKING_ONLY)))
		return 0;
	emit_release(MS_EV_FREE, cookie, id, ptr, 0, outer);
	return 0;
}

static __always_inline int on_dlstate(__u64 cookie, __u64 id)
{
	struct ms_event *e = reserve(MS_EV_DLSTATE, cookie, id);

	if (e) {
		e->a.ptr = 0;
		e->a.size = 0;
		e->a.ret = 0;
		/* the daemon attaches to what the loader just mapped, then sends SIGCONT.
		 * The stop is pending before the record is visible: a SIGCONT that came
		 * first would be undone by it, and the process would stay stopped. (No
		 * record, no stop: it runs on, its calls are lost.) */
		if (cookie & MS_CK_STOP) {
			bpf_send_signal(MS_SIGSTOP);
			e->flags |= MS_EVF_STOPPED;
		}
		/* the consumer sees the record before the process runs on */
		bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP);
	}
	return 0;
}

/* ------------------------------------------------------------ CFI unwinding */

struct ms_unwind_walk {
	__u64 ip, sp, bp;
	__u64 hash;
	__u32 tgid;
	__u32 n;     /* frames written */
	__u32 exact; /* ip is where the frame stopped (the first, or one a signal interrupted),
			not a return address */
};

/* Binary searches, one step per bpf_loop iteration: the verifier looks at a step once
 * instead of at every unrolled one (unrolled, the searches cost it 300 MiB of memory) */
struct search {
	__u32 lo, hi; /* the answer is in [lo, hi) */
	__u32 tgid;
	__u64 key;
};

/* A step over the starts of the mappings of process tgid */
static long map_step(__u64 i, struct search *s)
{
	const struct ms_cfi_proc *proc = bpf_map_lookup_elem(&ms_cfi_procs, &s->tgid);
	__u32 mid;

	if (!proc || s->lo >= s->hi)
		return 1;
	mid = (s->lo + s->hi) / 2;
	if (proc->m[mid & (MS_UNWIND_MAPS - 1)].start <= s->key)
		s->lo = mid + 1;
	else
		s->hi = mid;
	return 0;
}

/* A step over the rows' pcs */
static long row_step(__u64 i, struct search *s)
{
	const struct ms_cfi_row *r;
	__u32 mid;

	if (s->lo >= s->hi)
		return 1;
	mid = s->lo + (s->hi - s->lo) / 2;
	r = bpf_map_lookup_elem(&ms_cfi_rows, &mid);
	if (!r)
		return 1;
	if (r->pc <= s->key)
		s->lo = mid + 1;
	else
		s->hi = mid;
	return 0;
}

/* The mapping of proc (process tgid) that holds ip, or NULL */
static __always_inline const struct ms_cfi_map *map_of_ip(const struct ms_cfi_proc *proc,
							  __u32 tgid, __u64 ip)
{
	struct search s = { 0, proc->n, tgid, ip };
	__u32 k;

	if (s.hi > MS_UNWIND_MAPS)
		return NULL;
	bpf_loop(10, map_step, &s, 0); /* 2^10 > MS_UNWIND_MAPS */
	if (!s.lo)
		return NULL;
	k = (s.lo - 1) & (MS_UNWIND_MAPS - 1);
	return ip < proc->m[k].end ? &proc->m[k] : NULL;
}

/* The row of obj that covers pc, or NULL: the last with row.pc <= pc */
static __always_inline const struct ms_cfi_row *row_of_pc(__u32 obj, __u32 pc)
{
	const struct ms_cfi_obj *o = bpf_map_lookup_elem(&ms_cfi_objs, &obj);
	struct search s;

	if (!o || !o->count)
		return NULL;
	s = (struct search){ o->first, o->first + o->count, 0, pc };
	bpf_loop(25, row_step, &s, 0); /* 2^25 rows: more than the map holds */
	if (s.lo == o->first)
		return NULL;
	s.lo--;
	return bpf_map_lookup_elem(&ms_cfi_rows, &s.lo);
}

/* One frame: the current ip is recorded, then the caller's registers found from its
 * row (or, with --stack-unwind auto, from the frame pointer where there is no rule);
 * 1 ends the walk */
static long unwind_frame(__u64 i, struct ms_unwind_walk *s)
{
	const struct ms_cfi_proc *proc;
	const struct ms_cfi_map *m;
	const struct ms_cfi_row *r;
	struct ms_ustack *u;
	__u32 zero = 0;
	__u64 cfa, ra, bp = s->bp;

	u = bpf_map_lookup_elem(&ms_unwind_scratch, &zero);
	if (!u || s->n >= stack_depth || s->n >= MS_MAX_STACK_DEPTH)
		return 1;
	u->ip[s->n] = s->ip;
	s->n++;
	s->hash = (s->hash ^ s->ip) * 0x100000001b3ULL; /* FNV-1a over the frames */
	/* a process the daemon has not described yet has no rules: frame pointers (auto) */
	proc = bpf_map_lookup_elem(&ms_cfi_procs, &s->tgid);
	m = proc ? map_of_ip(proc, s->tgid, s->ip) : NULL;
	if (proc && !m)
		return 1; /* not code: the walk ends here */
	/* a return address is the instruction after the call: its row is the call's */
	r = m ? row_of_pc(m->obj, (__u32)(s->ip - m->bias - (s->exact ? 0 : 1))) : NULL;
	s->exact = 0;
	if (r && r->cfa_reg == MS_CFI_SIGNAL) {
		/* a handler's return to the restorer: the interrupted registers, saved by the
		 * kernel on the stack (on the alternate stack too: no ordering check) */
		if (bpf_probe_read_user(&cfa, sizeof(cfa), (void *)(s->sp + r->cfa_off)) ||
		    bpf_probe_read_user(&ra, sizeof(ra), (void *)(s->sp + r->cfa_off + 8)) ||
		    bpf_probe_read_user(&bp, sizeof(bp), (void *)(s->sp + r->rbp_off)) || !ra)
			return 1;
		s->ip = ra;
		s->sp = cfa;
		s->bp = bp;
		s->exact = 1;
		return 0;
	}
	if (r && r->cfa_reg != MS_CFI_NONE) {
		cfa = (r->cfa_reg == MS_CFI_RSP ? s->sp : s->bp) + (__s64)r->cfa_off;
		if (bpf_probe_read_user(&ra, sizeof(ra), (void *)(cfa - 8)))
			return 1;
		if (r->rbp_saved &&
		    bpf_probe_read_user(&bp, sizeof(bp), (void *)(cfa + (__s64)r->rbp_off)))
			return 1;
	} else if (unwind == MS_UNWIND_AUTO && s->bp) {
		/* no rule here (an object without rows, JIT code, assembly without CFI): its
		 * frame pointer, if it keeps one */
		cfa = s->bp + 16;
		if (bpf_probe_read_user(&ra, sizeof(ra), (void *)(s->bp + 8)) ||
		    bpf_probe_read_user(&bp, sizeof(bp), (void *)s->bp))
			return 1;
	} else {
		return 1;
	}
	if (!ra || cfa <= s->sp)
		return 1; /* the outermost frame, or a loop */
	s->ip = ra;
	s->sp = cfa;
	s->bp = bp;
	return 0;
}

/* Zeroes frame from + i of this CPU's stack: the frames past the walk's */
static long zero_frame(__u64 i, __u32 *from)
{
	struct ms_ustack *u;
	__u32 zero = 0;
	__u64 k = *from + i;

	u = bpf_map_lookup_elem(&ms_unwind_scratch, &zero);
	if (u && k < MS_MAX_STACK_DEPTH)
		u->ip[k] = 0;
	return 0;
}

/* --sample-bytes: whether the thread's outermost call of size bytes is in the sample: its
 * bytes use up the gap to the next sample, drawn afresh after each (memoryless: a block's
 * chance is 1 - exp(-size / N) whatever came before, which the daemon's weights undo) */
static __always_inline bool in_sample(struct ms_thread *t, __u64 size)
{
	if (!t->sample_left)
		t->sample_left = ms_sample_gap(bpf_get_prandom_u32(), sample_bytes, log2_q16) + 1;
	t->sample_left -= size < (1ULL << 62) ? (__s64)size : (1LL << 62);
	if (t->sample_left > 0)
		return false;
	t->sample_left = ms_sample_gap(bpf_get_prandom_u32(), sample_bytes, log2_q16) + 1;
	return true;
}

/* The user stack of the call being entered, unwound from CFI rows: its id in
 * ms_ustacks (the same stack gets the same id), or a negative error as
 * bpf_get_stackid's */
static __always_inline long unwind_stack(struct pt_regs *ctx, __u32 tgid)
{
	struct ms_unwind_walk s = {
		.ip = PT_REGS_IP(ctx),
		.sp = PT_REGS_SP(ctx),
		.bp = ctx->bp,
		.hash = 0xcbf29ce484222325ULL,
		.tgid = tgid,
		.exact = 1,
	};
	struct ms_ustack *u, *slot;
	__u32 zero = 0, id, *known;

	bpf_loop(MS_MAX_STACK_DEPTH, unwind_frame, &s, 0);
	u = bpf_map_lookup_elem(&ms_unwind_scratch, &zero);
	if (!u || !s.n)
		return -14; /* -EFAULT */
	known = bpf_map_lookup_elem(&ms_ustack_ids, &s.hash);
	if (known)
		return *known;
	bpf_loop(MS_MAX_STACK_DEPTH - s.n, zero_frame, &s.n, 0);
	id = __sync_fetch_and_add(&ms_ustack_next, 1);
	if (id >= stack_entries)
		return -12; /* -ENOMEM: full */
	slot = bpf_map_lookup_elem(&ms_ustacks, &id);
	if (!slot)
		return -12;
	__builtin_memcpy(slot, u, sizeof(*u));
	/* another CPU that unwound the same stack meanwhile published its id first: use it
	 * (this id's slot stays unused) */
	if (bpf_map_update_elem(&ms_ustack_ids, &s.hash, &id, BPF_NOEXIST)) {
		known = bpf_map_lookup_elem(&ms_ustack_ids, &s.hash);
		return known ? *known : -17;
	}
	return id;
}

SEC("uprobe")
int BPF_KPROBE(ms_entry)
{
	__u64 a0 = PT_REGS_PARM1(ctx), a1 = PT_REGS_PARM2(ctx), a2 = PT_REGS_PARM3(ctx);
	__u64 a3 = PT_REGS_PARM4(ctx), a4 = PT_REGS_PARM5(ctx), a5 = ctx->r9;
	__u64 cookie = bpf_get_attach_cookie(ctx);
	__u64 id = bpf_get_current_pid_tgid();
	unsigned kind = MS_CK_KIND(cookie);
	struct ms_thread *t;
	struct ms_frame *outer, *f;
	__u32 d;
	__u64 size, nmemb, ptr;

	if ((id >> 32) == self_tgid)
		return 0;
	if (kind == MS_FN_FREE && !(cookie & MS_CK_FRAME))
		return on_free(cookie, id, pick(MS_CK_PTR_ARG(cookie), a0, a1, a2, a3, a4, a5));
	if (kind == MS_FN_DLSTATE)
		return on_dlstate(cookie, id);

	size = pick(MS_CK_SIZE_ARG(cookie), a0, a1, a2, a3, a4, a5);
	if (MS_CK_NMEMB_ARG(cookie) != MS_ARG_NONE) {
		nmemb = pick(MS_CK_NMEMB_ARG(cookie), a0, a1, a2, a3, a4, a5);
		/* saturate: a product that overflows fails the call, and must not read as 0
		 * (realloc(p, 0) frees) */
		if (nmemb) {
			__u64 limit = ~0ULL / nmemb;

			asm volatile("" : "+r"(limit)); /* keep clang from a 128-bit multiply */
			size = size > limit ? ~0ULL : size * nmemb;
		} else {
			size = 0;
		}
	}
	if (kind == MS_FN_ALLOC)
		ptr = pick(MS_CK_OUT_ARG(cookie), a0, a1, a2, a3, a4, a5);
	else
		ptr = pick(MS_CK_PTR_ARG(cookie), a0, a1, a2, a3, a4, a5);

	if (cookie & MS_CK_BACKING_ONLY) {
		t = thread_calls(0);
		if (!t)
			return 0; /* no call of another allocator is pending */
	} else {
		t = thread_calls(BPF_LOCAL_STORAGE_GET_F_CREATE);
		if (!t) {
			count(MS_CNT_THREADS_FULL);
			return 0;
		}
	}
	outer = top(t);
	if (!outer && (cookie & MS_CK_BACKING_ONLY))
		return 0;

	/* the old block is released inside the call: say so before another thread can
	 * get the address back from its own malloc */
	if (kind == MS_FN_REALLOC && ptr && !same_allocator(outer, cookie))
		emit_release(MS_EV_REALLOC_ENTER, cookie, id, ptr, size, outer);
	/* a free with a frame (a custom free that may call into libc) */
	if (kind == MS_FN_FREE && ptr && !same_allocator(outer, cookie))
		emit_release(MS_EV_FREE, cookie, id, ptr, 0, outer);

	d = t->depth;
	if (d >= MS_MAX_DEPTH) {
		count(MS_CNT_DEPTH);
		return 0;
	}
	f = &t->f[d & (MS_MAX_DEPTH - 1)];
	f->sp = PT_REGS_SP(ctx);
	f->cookie = cookie;
	f->size = size;
	f->ptr = ptr;
	f->stack_id = -1;
	if (stacks && !outer && sample_bytes && !in_sample(t, size)) {
		f->stack_id = MS_STACK_UNSAMPLED;
	} else if (stacks && !outer) {
		long sid = unwind == MS_UNWIND_FP ?
				   bpf_get_stackid(ctx, &ms_stacks, BPF_F_USER_STACK) :
				   unwind_stack(ctx, id >> 32);

		if (sid >= 0)
			f->stack_id = sid;
		else
			count(sid == -17 /* -EEXIST */ ? MS_CNT_STACK_COLLISION :
							 MS_CNT_STACK_FULL);
	}
	t->depth = d + 1;
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(ms_return)
{
	__u64 rc = PT_REGS_RC(ctx);
	__u64 id = bpf_get_current_pid_tgid();
	__u64 sp = PT_REGS_SP(ctx) - 8; /* the sp the entry saw, return address popped */
	struct ms_thread *t;
	struct ms_frame *f, *outer;
	struct ms_event *e;
	__u64 cookie, out = 0;
	unsigned kind;
	int i;

	if ((id >> 32) == self_tgid)
		return 0;
	t = thread_calls(0);
	if (!t)
		return 0;

	/* drop calls whose return never came (a longjmp out of them); find ours */
	for (i = 0; i < MS_MAX_DEPTH; i++) {
		f = top(t);
		if (!f || f->sp >= sp)
			break;
		t->depth--;
		count(MS_CNT_STALE_FRAME);
	}
	f = top(t);
	if (!f || f->sp != sp) {
		/* a backing-only function called outside any allocator pushed nothing */
		if (!(bpf_get_attach_cookie(ctx) & MS_CK_BACKING_ONLY))
			count(MS_CNT_UNMATCHED_RET);
		return 0;
	}
	t->depth--;
	cookie = f->cookie;
	kind = MS_CK_KIND(cookie);
	outer = top(t);
	if (kind == MS_FN_FREE || same_allocator(outer, cookie))
		return 0;

	if (kind == MS_FN_ALLOC && MS_CK_OUT_ARG(cookie) != MS_ARG_NONE) {
		/* status return, block written through the out-parameter */
		if (rc == 0 && f->ptr)
			bpf_probe_read_user(&out, sizeof(out), (void *)f->ptr);
	}

	e = reserve(kind == MS_FN_REALLOC ? MS_EV_REALLOC : MS_EV_ALLOC, cookie, id);
	if (!e)
		return 0;
	e->a.size = f->size;
	/* the kernel has put the caller's return address back in ip before running
	 * return probes: the call site, read from a register instead of user memory */
	e->caller = PT_REGS_IP(ctx);
	e->stack_id = f->stack_id;
	if (f->stack_id == MS_STACK_UNSAMPLED) {
		e->stack_id = -1;
		e->flags |= MS_EVF_UNSAMPLED;
	}
	if (kind == MS_FN_REALLOC) {
		e->a.ptr = f->ptr;
		e->a.ret = rc;
	} else if (MS_CK_OUT_ARG(cookie) != MS_ARG_NONE) {
		e->a.ptr = rc == 0 ? out : 0;
		e->a.ret = rc;
	} else {
		e->a.ptr = (cookie & MS_CK_FAIL_M1) && rc == ~0ULL ? 0 : rc;
		e->a.ret = 0;
	}
	mark_nested(e, outer);
	submit(e);
	return 0;
}

static __always_inline bool wanted(__u32 tgid)
{
	return !filter_pids || bpf_map_lookup_elem(&ms_pids, &tgid);
}

/* BTF tracepoints: no tracefs needed */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(ms_exec, struct task_struct *p)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct ms_event *e;

	if (!wanted(id >> 32) || (id >> 32) == self_tgid)
		return 0;
	e = reserve(MS_EV_EXEC, 0, id);
	if (e) {
		__builtin_memset(&e->a, 0, sizeof(e->a));
		bpf_get_current_comm(e->comm, sizeof(e->comm));
		if (follow && filter_pids) {
			/* -f: held before the new image's first instruction until the daemon
			 * has attached to it (and to its loader, which holds it again); the
			 * stop is pending before the daemon can read the record, so that its
			 * SIGCONT cannot come first (as on_fork) */
			bpf_send_signal(MS_SIGSTOP);
			e->flags |= MS_EVF_STOPPED;
			bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP);
		} else {
			submit(e);
		}
	}
	return 0;
}

/* A new process (not a thread), named for the daemon; with follow, a child of a traced
 * process joins them and is held stopped before its first instruction */
static __always_inline int on_fork(struct task_struct *parent, struct task_struct *child,
				   bool follow_it)
{
	__u32 ptgid = parent->tgid, tgid = child->tgid, pid = child->pid;
	__u8 how = MS_PID_PROBED, *parent_how;
	struct ms_event *e;
	bool held;

	if (pid != tgid || ptgid == self_tgid)
		return 0;
	parent_how = filter_pids ? bpf_map_lookup_elem(&ms_pids, &ptgid) : NULL;
	if (filter_pids && !parent_how)
		return 0;
	if (parent_how)
		how = *parent_how;
	/* a full table of traced processes leaves the child out: its record is not
	 * STOPPED (nor FOLLOWED), and the daemon counts it untraced */
	held = follow_it && !bpf_map_update_elem(&ms_pids, &tgid, &how, BPF_ANY);
	e = reserve(MS_EV_FORK, 0, (__u64)tgid << 32 | pid);
	if (!e) {
		/* nobody would let it go on: not held (and counted lost) */
		if (held)
			bpf_map_delete_elem(&ms_pids, &tgid);
		return 0;
	}
	__builtin_memset(&e->a, 0, sizeof(e->a));
	bpf_probe_read_kernel_str(e->comm, sizeof(e->comm), child->comm);
	e->ppid = ptgid;
	if (!held) {
		submit(e);
		return 0;
	}
	if (how == MS_PID_INPROC) {
		/* it inherited the preloaded library, which records its calls: it joins
		 * (its exec and exit come here) and runs on */
		e->flags |= MS_EVF_FOLLOWED;
		submit(e);
		return 0;
	}
	/* stopped before the daemon hears of it: its SIGCONT, sent once it has attached,
	 * cannot come first. The child has not run yet: it stops on its way out of the
	 * kernel, before its first user instruction. */
	bpf_send_signal_task(child, MS_SIGSTOP, PIDTYPE_TGID, 0);
	e->flags |= MS_EVF_STOPPED;
	bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(ms_fork, struct task_struct *parent, struct task_struct *child)
{
	return on_fork(parent, child, false);
}

/* -f: loaded instead of ms_fork */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(ms_fork_follow, struct task_struct *parent, struct task_struct *child)
{
	return on_fork(parent, child, true);
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(ms_exit, struct task_struct *task)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	struct ms_event *e;

	/* the thread's pending calls go with its task */
	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0; /* not the last thread */
	if (!wanted(tgid) || tgid == self_tgid)
		return 0;
	if (filter_pids)
		bpf_map_delete_elem(&ms_pids, &tgid);
	e = reserve(MS_EV_EXIT, 0, id);
	if (!e)
		return 0;
	__builtin_memset(&e->a, 0, sizeof(e->a));
	/* the process' name is its leader's, not its last thread's */
	BPF_CORE_READ_STR_INTO(&e->comm, task, group_leader, comm);
	/* the daemon prints the exit record at once */
	bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP);
	return 0;
}
