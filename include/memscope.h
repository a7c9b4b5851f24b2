/* memscope.h: the one contract between the BPF programs and the daemon */
#ifndef MEMSCOPE_H
#define MEMSCOPE_H

#ifdef __BPF__
/* vmlinux.h provides the __u8..__u64 types */
#else
#include <linux/types.h>
#endif

#define MS_COMM_LEN 16
#define MS_MAX_DEPTH 4	       /* pending traced calls per thread (nesting) */
#define MS_MAX_STACK_DEPTH 127 /* frames of a user stack (--stack-depth) */
#define MS_ARG_NONE 7	       /* role not present in the parameter list */

/* the BPF programs index the per-thread call stack with depth & (MS_MAX_DEPTH - 1) */
_Static_assert(MS_MAX_DEPTH > 0 && (MS_MAX_DEPTH & (MS_MAX_DEPTH - 1)) == 0,
	       "MS_MAX_DEPTH must be a power of two");

/* Record types. Every record starts with its type; the consumer switches on it. */
enum ms_ev_type {
	MS_EV_ALLOC = 1, /* alloc-kind call returned: a.ptr result (0: failed), a.size requested,
				a.ret the status word of out-parameter allocators */
	MS_EV_FREE,	 /* free-kind call entered with a.ptr != 0 */
	MS_EV_REALLOC_ENTER, /* realloc-kind call entered with a.ptr (old block) != 0 */
	MS_EV_REALLOC, /* realloc-kind call returned: a.ptr old, a.ret new (0: none), a.size */
	MS_EV_EXEC,    /* a process called exec: comm is the new image's */
	MS_EV_EXIT,    /* the last thread of a process exited */
	MS_EV_DLSTATE, /* the dynamic loader changed the process' link map */
	MS_EV_FORK,    /* a process was created (fork, vfork, clone without CLONE_THREAD):
			  tgid is the new process, ppid its parent, comm its name (its
			  parent's until it execs) */
	MS_EV_TYPE_MAX,
};

/* Record flags */
#define MS_EVF_NESTED 0x01 /* made inside another traced allocator's call: backing */
#define MS_EVF_UNSAMPLED                                                                           \
	0x04 /* ALLOC, REALLOC with --sample-bytes: no stack taken, the
				   allocation is not in the sample (counted all the same) */
#define MS_EVF_STOPPED                                                                             \
	0x02 /* FORK, EXEC, DLSTATE: the process is held stopped (SIGSTOP)
			       until the daemon has attached to it and sends SIGCONT */
/* 0x08 is the in-process source's own (memscope_shm.h), never in a record applied */
#define MS_EVF_FOLLOWED                                                                            \
	0x10 /* FORK: the child of an in-process process joined the traced
				  ones, not held: the library it inherited records its calls */

/* ms_pids' values: how a traced process' calls reach the daemon */
#define MS_PID_PROBED 1 /* uprobes */
#define MS_PID_INPROC 2 /* the preloaded library (--in-process) */

/*
 * One record, 64 bytes. Fixed-width fields, explicit padding; the layout is also the
 * --record file format, so any change bumps MS_RECORD_VERSION.
 */
struct ms_event {
	__u8 type;     /* enum ms_ev_type */
	__u8 flags;    /* MS_EVF_* */
	__u16 func;    /* function id (probe table index), from the attach cookie */
	__u16 cpu;     /* CPU the call ran on */
	__u8 node;     /* NUMA node of that CPU */
	__u8 reserved; /* 0: kept for the format's sake (recordings made before hold
			  the nesting depth of a NESTED record here, 1 to MS_MAX_DEPTH;
			  replay checks only that bound) */
	__u32 tgid;    /* process */
	__u32 tid;     /* thread */
	__u64 ts_ns;   /* CLOCK_MONOTONIC (bpf_ktime_get_ns) */
	union {
		struct {
			__u64 ptr;  /* block: result (ALLOC), freed (FREE), old (REALLOC*) */
			__u64 size; /* requested bytes (calloc: nmemb * size) */
			__u64 ret;  /* REALLOC: new block; ALLOC with out-parameter: status */
		} a;
		struct {
			char comm[MS_COMM_LEN]; /* EXEC, EXIT, FORK: the thread-group
						   leader's name */
			__u32 ppid;		/* FORK: the parent process */
			__u32 pad2;
		};
	};
	__s32 stack_id;	  /* user stack id, or -1 when stacks are off or lost */
	__u16 outer_func; /* NESTED: function id of the enclosing call */
	__u16 pad;
	__u64 caller; /* return address of the call: the allocation site, 0 if unknown */
};

#define MS_EVENT_SIZE 64
_Static_assert(sizeof(struct ms_event) == MS_EVENT_SIZE, "ms_event layout changed");

/* Function kinds: what the entry and return programs do with a call */
enum ms_fn_kind {
	MS_FN_ALLOC = 1, /* returns a block (or writes it through an out-parameter) */
	MS_FN_FREE,	 /* releases the block in its ptr argument */
	MS_FN_REALLOC,	 /* releases ptr, returns a new block of size */
	MS_FN_DLSTATE,	 /* the dynamic loader's _dl_debug_state: link map changed */
};

/*
 * The attach cookie says everything the generic programs need about a function, so a
 * new allocator is data, not code:
 *   bits  0-15 function id        bits 16-31 allocator id
 *   bits 32-35 kind (ms_fn_kind)  bits 36-38 size arg   bits 39-41 nmemb arg
 *   bits 42-44 ptr arg            bits 45-47 out arg    (arg index 0-5, MS_ARG_NONE)
 *   bit  48    has a return probe that pops a frame (alloc and realloc kinds always do)
 *   bit  49    DLSTATE: stop the process (SIGSTOP) so the daemon attaches before it runs on
 *   bit  50    backing only: recorded only inside another allocator's call (mmap, munmap)
 *   bit  51    fails with (void *)-1 rather than NULL (mmap)
 */
#define MS_CK_FUNC(c) ((__u16)((c)&0xffff))
#define MS_CK_ALLOCATOR(c) ((__u16)(((c) >> 16) & 0xffff))
#define MS_CK_KIND(c) ((unsigned)(((c) >> 32) & 0xf))
#define MS_CK_SIZE_ARG(c) ((unsigned)(((c) >> 36) & 7))
#define MS_CK_NMEMB_ARG(c) ((unsigned)(((c) >> 39) & 7))
#define MS_CK_PTR_ARG(c) ((unsigned)(((c) >> 42) & 7))
#define MS_CK_OUT_ARG(c) ((unsigned)(((c) >> 45) & 7))
#define MS_CK_FRAME (1ULL << 48)
#define MS_CK_STOP (1ULL << 49)
#define MS_CK_BACKING_ONLY (1ULL << 50)
#define MS_CK_FAIL_M1 (1ULL << 51)

#define MS_CK_MAKE(func, alloc, kind, size_arg, nmemb_arg, ptr_arg, out_arg)                       \
	((__u64)(func) | ((__u64)(alloc) << 16) | ((__u64)(kind) << 32) |                          \
	 ((__u64)(size_arg) << 36) | ((__u64)(nmemb_arg) << 39) | ((__u64)(ptr_arg) << 42) |       \
	 ((__u64)(out_arg) << 45))

/* Counters kept in BPF (per-CPU array), reported in every output record */
enum ms_counter {
	MS_CNT_RINGBUF_FULL,	/* a record could not be reserved: lost */
	MS_CNT_THREADS_FULL,	/* no per-thread call stack could be created: call lost */
	MS_CNT_DEPTH,		/* nesting deeper than MS_MAX_DEPTH: call lost */
	MS_CNT_UNMATCHED_RET,	/* a return with no pending call (attached mid-call): ignored */
	MS_CNT_STALE_FRAME,	/* a pending call whose return never came (longjmp): dropped */
	MS_CNT_STACK_COLLISION, /* --stacks: another stack held the slot: recorded without one */
	MS_CNT_STACK_FULL,	/* --stacks: the stack map was full, or the stack unreadable */
	MS_CNT_MAX,
};

/*
 * --stack-unwind dwarf|auto: the BPF programs unwind user stacks themselves, from rows the
 * daemon compiles out of each object's call frame information (.eh_frame, user/cfi.c).
 * A row holds from its pc (an ELF virtual address of its object) up to the next row's:
 *   CFA = (cfa_reg == MS_CFI_RSP ? rsp : rbp) + cfa_off; the return address at CFA - 8;
 *   rbp saved at CFA + rbp_off when rbp_saved, else unchanged; the caller's rsp is CFA.
 * cfa_reg MS_CFI_SIGNAL: a signal frame (the restorer a handler returns to, its FDE marked
 *   "S"): rsp points at the saved registers; the interrupted rsp is at rsp + cfa_off, its
 *   ip at rsp + cfa_off + 8, its rbp at rsp + rbp_off. The interrupted ip is no return
 *   address: its own row is looked up, not the one before it.
 * cfa_reg MS_CFI_NONE: no rule here (no CFI, or one the programs cannot follow).
 */
enum ms_unwind_mode { MS_UNWIND_FP, MS_UNWIND_DWARF, MS_UNWIND_AUTO };

#define MS_CFI_NONE 0
#define MS_CFI_RSP 1
#define MS_CFI_RBP 2
#define MS_CFI_SIGNAL 3

struct ms_cfi_row {
	__u32 pc;
	__u8 cfa_reg;
	__u8 rbp_saved;
	__s16 rbp_off;
	__s32 cfa_off;
};

/* An object's rows: ms_cfi_rows[first .. first + count), sorted by pc */
struct ms_cfi_obj {
	__u32 first, count;
};

#define MS_UNWIND_MAPS 256 /* executable mappings of a process the programs know */

/* One executable mapping of a process: its addresses less bias are its object's */
struct ms_cfi_map {
	__u64 start, end, bias;
	__u32 obj; /* index into ms_cfi_objs; its count is 0 for an object without rows */
	__u32 pad;
};

/* A process' executable mappings, sorted by start */
struct ms_cfi_proc {
	__u32 n;
	__u32 pad;
	struct ms_cfi_map m[MS_UNWIND_MAPS];
};

/*
 * --sample-bytes N: the bytes a thread allocates until its next sampled allocation, an
 * exponential draw of mean N (a Poisson process over the bytes, as tcmalloc and Go take
 * heap profiles) from a uniform 32-bit u: -ln(u / 2^32) N = (32 - log2 u) N ln 2, log2 u
 * from its leading bit and tab (log2(1 + i / 256) in Q16, 257 entries, ms_sample_table)
 * with linear interpolation; within 1e-5 of the exact draw. mean at most 2^32. Shared by
 * the BPF programs and the daemon's tests.
 */
#ifdef __BPF__
#define MS_SAMPLE_INLINE static __always_inline
#else
#define MS_SAMPLE_INLINE static inline
#endif
#define MS_SAMPLE_MAX (1ULL << 32)

MS_SAMPLE_INLINE __u64 ms_sample_gap(__u32 u, __u64 mean, const volatile __u32 *tab)
{
	__u32 x = u | 1, k = 0, n, m, r, a, b;
	__u64 l;

	if (x >> 16) {
		k += 16;
		x >>= 16;
	}
	if (x >> 8) {
		k += 8;
		x >>= 8;
	}
	if (x >> 4) {
		k += 4;
		x >>= 4;
	}
	if (x >> 2) {
		k += 2;
		x >>= 2;
	}
	if (x >> 1)
		k += 1;
	n = (u | 1) << (31 - k); /* the leading bit at bit 31 */
	m = (n >> 23) & 0xff;
	r = (n >> 15) & 0xff;
	a = tab[m];
	b = tab[m + 1];
	l = ((__u64)k << 16) + a + (((__u64)(b - a) * r) >> 8);	   /* log2 u, Q16 */
	return ((((32ULL << 16) - l) * mean) >> 16) * 45426 >> 16; /* 45426: ln 2 in Q16 */
}

#endif /* MEMSCOPE_H */
