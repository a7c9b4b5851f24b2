/* memscope_shm.h: the in-process source's contract: the shared memory a launched command's
 * preloaded library (preload/preload.c) writes records into, and the daemon
 * (user/inproc.c) reads. The records are memscope.h's; only their func differs (below). */
#ifndef MEMSCOPE_SHM_H
#define MEMSCOPE_SHM_H

#include <stdint.h>
#include "memscope.h"

#define MS_SHM_ENV "MEMSCOPE_SHM" /* the region's path, in the command's environment */
#define MS_PRELOAD_NAME "libmemscope-preload.so"
/* The allocators whose own API (mallocx, tc_malloc, mi_malloc, ...) a library of its own
 * interposes, X(name) each: MS_PRELOAD_FAMILY name ".so", preloaded after MS_PRELOAD_NAME when
 * the command loads that allocator (stdcxx: libstdc++'s operators, with --stacks, when no
 * allocator of its own defines them); its table of functions is its symbol
 * ms_shim_family_name */
#define MS_SHM_FAMILIES(X) X(jemalloc) X(tcmalloc) X(mimalloc) X(stdcxx) /* stdcxx last */
#define MS_PRELOAD_FAMILY "libmemscope-preload-"
#define MS_SHM_MAGIC 0x4d534d53u  /* "SMSM" */
#define MS_SHM_VERSION 7	  /* 3: C++ operators; 4: stacks; 5: busy; 6: taken; 7: want */
#define MS_SHM_RINGS 256	  /* one per thread that allocates, reused when it ends */
#define MS_SHM_RING_RECORDS 65536 /* records a ring holds: 4 MiB; a power of two */
#define MS_SHM_PROCS 4096	  /* processes that can register, over the run */
#define MS_SHM_MAX_CPUS 1024	  /* node_of_cpu's entries */
/* Each library defines a function of this name, its region's version in it: the daemon
 * preloads only libraries that define its own (one of another build would not take the
 * region as its own and would record nothing) */
#define MS_SHM_CAT_(a, b) a##b
#define MS_SHM_CAT(a, b) MS_SHM_CAT_(a, b)
#define MS_SHM_STR_(x) #x
#define MS_SHM_STR(x) MS_SHM_STR_(x)
#define MS_SHM_MARK MS_SHM_CAT(memscope_shm_v, MS_SHM_VERSION)
#define MS_SHM_MARK_NAME MS_SHM_STR(MS_SHM_MARK)

/* The interposed functions. A record of the in-process source has one of these in func
 * (and MS_EVF_INPROC set); the daemon turns it into a catalog function id from its
 * process' entry (the address each one forwards to: which allocator, which aliases). */
enum ms_ip_fn {
	MS_IP_MALLOC = 1,
	MS_IP_CALLOC,
	MS_IP_REALLOC,
	MS_IP_FREE,
	MS_IP_POSIX_MEMALIGN,
	MS_IP_ALIGNED_ALLOC,
	MS_IP_MEMALIGN,
	MS_IP_VALLOC,
	MS_IP_PVALLOC,
	MS_IP_REALLOCARRAY,
	/* jemalloc's own API (libmemscope-preload-jemalloc.so) */
	MS_IP_JE_MALLOCX,
	MS_IP_JE_RALLOCX,
	MS_IP_JE_SDALLOCX,
	MS_IP_JE_DALLOCX,
	/* tcmalloc's (libmemscope-preload-tcmalloc.so) */
	MS_IP_TC_MALLOC,
	MS_IP_TC_CALLOC,
	MS_IP_TC_REALLOC,
	MS_IP_TC_FREE,
	MS_IP_TC_FREE_SIZED,
	MS_IP_TC_POSIX_MEMALIGN,
	MS_IP_TC_MEMALIGN,
	MS_IP_TC_VALLOC,
	MS_IP_TC_PVALLOC,
	MS_IP_TC_MALLOC_SKIP_NEW_HANDLER,
	MS_IP_TC_NEW,
	MS_IP_TC_NEWARRAY,
	MS_IP_TC_NEW_NOTHROW,
	MS_IP_TC_NEWARRAY_NOTHROW,
	MS_IP_TC_DELETE,
	MS_IP_TC_DELETEARRAY,
	MS_IP_TC_DELETE_NOTHROW,
	MS_IP_TC_DELETEARRAY_NOTHROW,
	MS_IP_TC_DELETE_SIZED,
	MS_IP_TC_DELETEARRAY_SIZED,
	/* mimalloc's (libmemscope-preload-mimalloc.so) */
	MS_IP_MI_MALLOC,
	MS_IP_MI_ZALLOC,
	MS_IP_MI_MALLOC_SMALL,
	MS_IP_MI_CALLOC,
	MS_IP_MI_MALLOCN,
	MS_IP_MI_REALLOC,
	MS_IP_MI_REALLOCF,
	MS_IP_MI_REALLOCN,
	MS_IP_MI_FREE,
	MS_IP_MI_FREE_SIZE,
	MS_IP_MI_FREE_ALIGNED,
	MS_IP_MI_MALLOC_ALIGNED,
	MS_IP_MI_ZALLOC_ALIGNED,
	MS_IP_MI_CALLOC_ALIGNED,
	MS_IP_MI_REALLOC_ALIGNED,
	MS_IP_MI_POSIX_MEMALIGN,
	MS_IP_MI_ALIGNED_ALLOC,
	MS_IP_MI_MEMALIGN,
	MS_IP_MI_VALLOC,
	MS_IP_MI_PVALLOC,
	MS_IP_MI_NEW,
	MS_IP_MI_NEW_NOTHROW,
	MS_IP_MI_HEAP_MALLOC,
	MS_IP_MI_HEAP_ZALLOC,
	MS_IP_MI_HEAP_CALLOC,
	MS_IP_MI_HEAP_REALLOC,
	/* C++'s operators as an allocator family's library defines them (their mangled names:
	 * operator new(size_t) is _Znwm); recorded only when they forward into that allocator */
	MS_IP_CXX_FIRST,
	MS_IP_CXX_NEW = MS_IP_CXX_FIRST,
	MS_IP_CXX_NEWARRAY,
	MS_IP_CXX_DELETE,
	MS_IP_CXX_DELETEARRAY,
	MS_IP_CXX_DELETE_SIZED,
	MS_IP_CXX_DELETEARRAY_SIZED,
	MS_IP_CXX_NEW_NOTHROW,
	MS_IP_CXX_NEWARRAY_NOTHROW,
	MS_IP_CXX_DELETE_NOTHROW,
	MS_IP_CXX_DELETEARRAY_NOTHROW,
	MS_IP_CXX_NEW_ALIGNED, /* _ZnwmSt11align_val_t: operator new(size_t, align_val_t) */
	MS_IP_CXX_NEWARRAY_ALIGNED,
	MS_IP_CXX_DELETE_ALIGNED,
	MS_IP_CXX_DELETEARRAY_ALIGNED,
	MS_IP_CXX_DELETE_SIZED_ALIGNED,
	MS_IP_CXX_DELETEARRAY_SIZED_ALIGNED,
	MS_IP_NFN,
};

#define MS_EVF_INPROC                                                                              \
	0x08 /* from the in-process source: func is an enum ms_ip_fn, ts_ns the
			      TSC (the daemon turns both into what the BPF programs write) */

/* A ring's life: FREE -> TAKEN (a thread, by compare-and-swap, at its first record) ->
 * CLOSED (its exit) -> FREE (the daemon, once it has read it to the end). The daemon also
 * frees the TAKEN rings of a process that exited or exec'd, once read. */
enum ms_shm_state { MS_SHM_FREE, MS_SHM_TAKEN, MS_SHM_CLOSED };

/* One writer (a thread), one reader (the daemon). head (and busy) and tail on lines of their
 * own. */
struct ms_shm_ring {
	uint32_t state; /* enum ms_shm_state */
	uint32_t tgid, tid;
	uint32_t proc; /* its process' entry (procs[]), or MS_SHM_NO_PROC */
	uint64_t lost; /* records that found the ring full (written by the writer only) */
	uint8_t pad0[40];
	uint64_t head; /* records written: the writer's, stored with release */
	/* non-zero while the writer makes a record: set before it reads the TSC, cleared
	 * after head. A record stamped and not yet in head (its thread preempted between
	 * the two) keeps the daemon from taking the ring as quiet (all read up to now) */
	uint64_t busy;
	/* block: a writer that found the ring full sleeps (a futex wait on wake) until tail
	 * reaches want, which it sets (0: none waits); the daemon, past it, takes want back
	 * to 0 by compare-and-swap, adds one to wake and wakes it */
	uint64_t want;
	uint8_t pad1[40];
	uint64_t tail; /* records read: the daemon's, stored with release */
	uint32_t wake;
	uint8_t pad2[52];
	struct ms_event rec[MS_SHM_RING_RECORDS];
};

#define MS_SHM_OBJS 4	   /* objects a process' functions forward into */
#define MS_SHM_PATH 256	   /* bytes of an object's path */
#define MS_SHM_NO_OBJ 0xff /* a function the process has none of */

/* A process, registered by its library at its start (and again in a forked child): where
 * each interposed function forwards to, as an object and a file offset, which the daemon
 * names as it names a probe there (aliases, allocator) without reading /proc: the process
 * may be gone by then */
#define MS_SHM_NO_PROC 0xffffffffu

struct ms_shm_proc {
	uint32_t tgid;	/* 0: free; claimed by compare-and-swap */
	uint32_t ready; /* the rest is complete: stored with release */
	uint64_t since; /* the TSC when it registered: an exec after it ends it */
	char obj[MS_SHM_OBJS][MS_SHM_PATH];
	struct {
		uint8_t obj; /* index into obj, or MS_SHM_NO_OBJ */
		uint8_t pad[7];
		uint64_t file_off;
	} fn[MS_IP_NFN];
};

/*
 * --stacks: the stacks the libraries walk, in a table of their own in the same file, at
 * ms_shm_header's stacks_off (a multiple of the page size), mapped apart from the rest:
 * slots of MS_SHM_STACK_BYTES(depth) bytes. A stack is found by the hash of its frames
 * (linear probing from the slot the hash names); a writer claims a free slot by
 * compare-and-swap of its hash, writes the frames, then stores nr with release, before
 * the record that names it is published. Slots are never freed. A record's stack_id is
 * MS_STACK_INPROC | slot: never an id of the BPF stack maps (below 2^30), so a run can
 * have both.
 */
#define MS_STACK_INPROC 0x40000000
#define MS_SHM_STACK_BYTES(depth) (16 + 8 * (size_t)(depth))

struct ms_shm_stack {
	uint64_t hash; /* 0: free; else the hash of the frames, claimed by compare-and-swap */
	uint32_t nr;   /* frames in ip: 0 until they are written (stored with release) */
	uint32_t tid;  /* the thread that claimed it (for a look at a table by hand) */
	uint64_t ip[]; /* depth of them: the allocation function, its caller, ... (the BPF
			  stack maps' layout) */
};

struct ms_shm_stacks {
	uint32_t slots;	    /* 0: no --stacks; else twice max: a probe meets a free slot soon */
	uint32_t depth;	    /* frames a slot holds (--stack-depth) */
	uint32_t max;	    /* stacks the table takes (--stack-map-size): then it is full */
	uint32_t used;	    /* slots claimed (or being claimed) */
	uint64_t lost;	    /* allocations whose stack was lost: the table full, a walk that
			   failed (the BPF programs' stack_map_full) */
	uint32_t published; /* slots whose frames are published: max of them, the table is full */
	uint32_t pad;
};

struct ms_shm_header {
	uint32_t magic, version;
	uint32_t nrings, ring_records, nprocs;
	uint32_t daemon_pid;
	uint32_t root_tgid; /* the launched command: the only process that records... */
	uint32_t follow;    /* ...unless its descendants are traced too (-f) */
	uint32_t block;	    /* a writer whose ring is full waits for room (else: lost) */
	uint32_t pad;
	uint64_t heartbeat; /* the daemon's reads: a writer waits only while it moves */
	uint64_t no_ring;   /* records lost: every ring was taken */
	uint64_t no_proc;   /* processes that found no free entry (untraced) */
	/* the rings threads hold, a bit each: set by a thread (or) when it takes one, before
	 * its first record; cleared by the daemon when it lets the ring go. The daemon looks
	 * only at these */
	uint64_t taken[MS_SHM_RINGS / 64];
	uint64_t stacks_off; /* the stack table's offset in the file */
	struct ms_shm_stacks stacks;
	uint64_t sample_bytes;	/* --sample-bytes with --stacks: the mean (0: every call) */
	uint32_t log2_q16[257]; /* ms_sample_gap's table */
	uint32_t pad2;
	uint8_t node_of_cpu[MS_SHM_MAX_CPUS];
	struct ms_shm_proc procs[MS_SHM_PROCS];
};

/* The rings follow the header, each at a multiple of 64 bytes */
#define MS_SHM_RINGS_OFFSET ((sizeof(struct ms_shm_header) + 63) & ~(size_t)63)
#define MS_SHM_SIZE (MS_SHM_RINGS_OFFSET + (size_t)MS_SHM_RINGS * sizeof(struct ms_shm_ring))
/* --stacks: the stack table after them, at a page (stacks_off) */
#define MS_SHM_STACKS_OFFSET ((MS_SHM_SIZE + 4095) & ~(size_t)4095)

_Static_assert(sizeof(struct ms_shm_stack) == MS_SHM_STACK_BYTES(0), "ms_shm_stack layout");
_Static_assert(MS_IP_NFN == 77, "struct ms_shm_proc changed: bump MS_SHM_VERSION");
_Static_assert(sizeof(struct ms_shm_ring) % 64 == 0, "rings must stay 64-byte aligned");
_Static_assert(MS_SHM_RINGS % 64 == 0, "taken: a bit a ring");
_Static_assert((MS_SHM_RING_RECORDS & (MS_SHM_RING_RECORDS - 1)) == 0,
	       "MS_SHM_RING_RECORDS must be a power of two");

#endif
