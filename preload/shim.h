/* shim.h: the in-process libraries' shared part (preload/shim.c): the real functions' look-up,
 * the shared region, the per-thread rings and records, nesting, the process' registration.
 * libmemscope-preload.so holds its one copy (and the C library's interposers, preload.c);
 * an allocator family's library (libmemscope-preload-jemalloc.so, ...) interposes that
 * allocator's own API and calls into it: one ring, one call depth per thread for both.
 *
 * An interposer's shape:
 *	if (!ms_shim_ready() || !REAL) ...	the real functions are not known: fail or drop
 *	if (!ms_shim_recording()) forward	no region (or not this process)
 *	fl = ms_shim_enter(FN); forward; ms_shim_leave(); ms_shim_emit(..., fl, FN, ...);
 * An allocation's record is made once its call is left, as the return probe fires once the
 * function has returned: a signal handler that allocates then is an outermost call, not
 * the call's nested one (in block mode the record may wait for the daemon). A free's, and a
 * realloc's release, is made inside the call, before forwarding, as the entry probe fires.
 */
#ifndef MS_PRELOAD_SHIM_H
#define MS_PRELOAD_SHIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "memscope_shm.h"

/* An interposer: in the dynamic symbol table. The shim's functions: callable from the family
 * libraries, bound within libmemscope-preload.so (never preempted, inlined there); a family's
 * library, which only calls them, defines MS_SHIM_API as default first (family.h). */
#define MS_EXPORT __attribute__((visibility("default")))
#ifndef MS_SHIM_API
#define MS_SHIM_API __attribute__((visibility("protected")))
#endif
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* An interposer's call site: the allocation site the records carry */
#define MS_CALLER ((uint64_t)(uintptr_t)__builtin_return_address(0))

/* ms_shim_enter's answer for a call not to record (ms_shim_emit drops it) */
#define MS_SHIM_SKIP 0x80

/*
 * A library's interposed functions: by enum ms_ip_fn, the symbol each interposes (NULL: not
 * one of its); at the first call the shim fills real with the next definition of each (NULL:
 * none) through next, which the library defines as dlsym(RTLD_NEXT, symbol), never as a
 * tail call: the next after that library. The C library's is preload.c's ms_shim_libc; a family's is its symbol
 * "ms_shim_family_" NAME (MS_SHM_FAMILIES), looked up in the process.
 */
struct ms_shim_family {
	const char *const *symbol; /* MS_IP_NFN entries */
	void **real;		   /* MS_IP_NFN entries */
	void *(*next)(const char *symbol);
	/* 0, or a function (MS_IP_MALLOC) whose allocator this family's functions are a view
	 * of: nested calls inside them are skipped as inside that allocator's own (libstdc++'s
	 * operator new over malloc: one allocator, as the uprobes count it) */
	uint16_t group;
};

extern const struct ms_shim_family ms_shim_libc;

/* Ready to forward (the real functions are known; looks them up on the first call): false
 * while this thread is looking them up, when the caller takes a bootstrap block (malloc) or
 * fails. Then the region is mapped: ms_shim_recording says whether this process records. */
MS_SHIM_API bool ms_shim_ready(void);
MS_SHIM_API bool ms_shim_recording(void);

/* Entering an interposed call of fn: its record flags. Nested inside a call into the same
 * object (glibc's reallocarray calls realloc through the PLT; tcmalloc's tc_free_sized
 * jumps to tc_free through it), or of the same group (libstdc++'s operator new calls
 * malloc), it is a second view of that call, not recorded (MS_SHIM_SKIP), as the BPF
 * programs do for one allocator; inside another object's, its backing (MS_EVF_NESTED).
 * Every enter is paired with a leave, also when the call unwinds (C++ operators throw). */
MS_SHIM_API uint8_t ms_shim_enter(uint16_t fn);

/* Whether interposed function fn forwards into the object that anchor forwards into (a
 * family's C++ operator into its allocator, not into libstdc++'s); for a recording process */
MS_SHIM_API bool ms_shim_forwards_into(uint16_t fn, uint16_t anchor);
MS_SHIM_API void ms_shim_leave(void);

/* One record into this thread's ring (nothing when flags has MS_SHIM_SKIP): type, fn, and
 * the a.ptr, a.size, a.ret and caller fields as the BPF programs write them */
MS_SHIM_API void ms_shim_emit(uint8_t type, uint8_t flags, uint16_t fn, uint64_t ptr, uint64_t size,
			      uint64_t ret, uint64_t caller);

/* A block of the bootstrap arena (NULL when it is used up), for the calls made while the real
 * functions are looked up; its size is in the 16 bytes before it; never freed */
MS_SHIM_API void *ms_shim_boot_alloc(size_t size);
MS_SHIM_API bool ms_shim_in_boot(const void *p);

/* nmemb * size, all ones when it overflows (as the BPF programs record it) */
static inline uint64_t ms_shim_product(size_t nmemb, size_t size)
{
	size_t bytes;

	return __builtin_mul_overflow(nmemb, size, &bytes) ? ~0ULL : bytes;
}

/* A realloc-kind call of fn moving old (NULL: an allocation) to bytes, entered with flags
 * fl: the old block's release first (as the BPF programs record it at entry), before
 * forwarding; then its outcome p, after */
static inline void ms_shim_realloc_entry(uint16_t fn, uint8_t fl, const void *old, uint64_t bytes,
					 uint64_t caller)
{
	if (old)
		ms_shim_emit(MS_EV_REALLOC_ENTER, fl, fn, (uintptr_t)old, bytes, 0, caller);
}

static inline void ms_shim_realloc_outcome(uint16_t fn, uint8_t fl, const void *old, uint64_t bytes,
					   const void *p, uint64_t caller)
{
	ms_shim_emit(MS_EV_REALLOC, fl, fn, (uintptr_t)old, bytes, (uintptr_t)p, caller);
}

#endif
