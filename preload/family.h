/* family.h: an allocator family's library (libmemscope-preload-NAME.so, preload/NAME.c): the
 * interposers of that allocator's own API, one macro per shape, over the shim that
 * libmemscope-preload.so holds (shim.h). Included by that one file, which defines symbol[]
 * (enum ms_ip_fn -> the symbol interposed), the interposers, then MS_FAMILY(NAME).
 *
 * The same rules as the C library's interposers (preload.c): outermost calls only, a
 * realloc's release at entry and its outcome after, the sizes from the arguments the
 * uprobes read (user/presets.c), a free of NULL forwarded and not recorded. Built with
 * -fexceptions: a C++ operator that throws (tc_new) unwinds through its interposer, which
 * leaves the call (and records nothing, as a return probe that never fires). */
#ifndef MS_PRELOAD_FAMILY_H
#define MS_PRELOAD_FAMILY_H

#include <dlfcn.h>
#include <errno.h>

#define MS_SHIM_API __attribute__((visibility("default"))) /* libmemscope-preload.so's */
#include "shim.h"

/* The region this library is built for, by name (memscope_shm.h) */
MS_EXPORT void MS_SHM_MARK(void)
{
}

/* The next definitions, filled by the shim at the process' first interposed call */
static void *real[MS_IP_NFN];

/* Never a tail call: dlsym looks for the next definition after the object its caller is
 * in, which must be this one, not the shim's */
__attribute__((optimize("no-optimize-sibling-calls"))) static void *next(const char *sym)
{
	return dlsym(RTLD_NEXT, sym);
}

/* The library's table, which libmemscope-preload.so looks up by name; FAMILY_GROUP: see
 * struct ms_shim_family's group (0 unless the library defines it) */
#ifndef FAMILY_GROUP
#define FAMILY_GROUP 0
#endif
#define MS_FAMILY(NAME)                                                                            \
	MS_EXPORT const struct ms_shim_family ms_shim_family_##NAME = { symbol, real, next,        \
									FAMILY_GROUP }

/* The next definition of name (interposed as FN), typed as name */
#define REAL(name, FN) ((__typeof__(&name))real[FN])

static inline void leave_scope(uint8_t *fl)
{
	ms_shim_leave();
}

/* Whether a call of FN is recorded: the process records, and a C++ operator forwards into
 * the family's allocator (the library defines FAMILY_ANCHOR, one of its own functions). An
 * operator whose next definition is libstdc++'s (it comes first in the command's search
 * order) is passed on: its malloc is the call recorded, as the uprobes see it. */
static inline bool traced(uint16_t fn)
{
	return ms_shim_recording() &&
	       (fn < MS_IP_CXX_FIRST || ms_shim_forwards_into(fn, FAMILY_ANCHOR));
}

/* Enters the call of FN (its record flags in fl) until the scope ends (an allocation's,
 * before its record: shim.h): a return, or an exception unwinding through it */
#define ENTER(fl, FN) uint8_t fl __attribute__((cleanup(leave_scope))) = ms_shim_enter(FN)

/* Returns a block of size bytes, NULL when it fails */
#define ALLOC(name, FN, params, args, size)                                                        \
	MS_EXPORT void *name params                                                                \
	{                                                                                          \
		uint64_t caller = MS_CALLER;                                                       \
		uint8_t rec_fl;                                                                    \
		void *p;                                                                           \
                                                                                                   \
		if (unlikely(!ms_shim_ready() || !real[FN]))                                       \
			return NULL;                                                               \
		if (!traced(FN))                                                                   \
			return REAL(name, FN) args;                                                \
		{                                                                                  \
			ENTER(fl, FN);                                                             \
			rec_fl = fl;                                                               \
			p = REAL(name, FN) args;                                                   \
		}                                                                                  \
		ms_shim_emit(MS_EV_ALLOC, rec_fl, FN, (uintptr_t)p, size, 0, caller);              \
		return p;                                                                          \
	}

/* Writes a block of size bytes with alignment align through out: 0, or an error number */
#define POSIX_MEMALIGN(name, FN)                                                                   \
	MS_EXPORT int name(void **out, size_t align, size_t size)                                  \
	{                                                                                          \
		uint64_t caller = MS_CALLER;                                                       \
		uint8_t rec_fl;                                                                    \
		int err;                                                                           \
                                                                                                   \
		if (unlikely(!ms_shim_ready() || !real[FN]))                                       \
			return ENOMEM;                                                             \
		if (!traced(FN))                                                                   \
			return REAL(name, FN)(out, align, size);                                   \
		{                                                                                  \
			ENTER(fl, FN);                                                             \
			rec_fl = fl;                                                               \
			err = REAL(name, FN)(out, align, size);                                    \
		}                                                                                  \
		ms_shim_emit(MS_EV_ALLOC, rec_fl, FN, err ? 0 : (uintptr_t)*out, size,             \
			     (uint64_t)(uint32_t)err, caller);                                     \
		return err;                                                                        \
	}

/* Moves block old (NULL: none) to a block of size bytes: the new one, NULL when it fails */
#define REALLOC(name, FN, params, args, old, size)                                                 \
	MS_EXPORT void *name params                                                                \
	{                                                                                          \
		uint64_t caller = MS_CALLER, bytes;                                                \
		uint8_t rec_fl;                                                                    \
		void *p;                                                                           \
                                                                                                   \
		if (unlikely(!ms_shim_ready() || !real[FN]))                                       \
			return NULL;                                                               \
		if (!traced(FN))                                                                   \
			return REAL(name, FN) args;                                                \
		bytes = size;                                                                      \
		{                                                                                  \
			ENTER(fl, FN);                                                             \
			rec_fl = fl;                                                               \
			ms_shim_realloc_entry(FN, fl, old, bytes, caller);                         \
			p = REAL(name, FN) args;                                                   \
		}                                                                                  \
		ms_shim_realloc_outcome(FN, rec_fl, old, bytes, p, caller);                        \
		return p;                                                                          \
	}

/* Releases block ptr (sized or not: the record is a free either way) */
#define FREE(name, FN, params, args, ptr)                                                          \
	MS_EXPORT void name params                                                                 \
	{                                                                                          \
		uint64_t caller = MS_CALLER;                                                       \
                                                                                                   \
		if (unlikely(!ms_shim_ready() || !real[FN]))                                       \
			return;                                                                    \
		if (!(ptr) || !traced(FN)) {                                                       \
			REAL(name, FN) args;                                                       \
			return;                                                                    \
		}                                                                                  \
		ENTER(fl, FN);                                                                     \
		ms_shim_emit(MS_EV_FREE, fl, FN, (uintptr_t)(ptr), 0, 0, caller);                  \
		REAL(name, FN) args;                                                               \
	}

/* C++'s operator new and delete in the forms the uprobes trace in the allocator's library
 * (user/presets.c): their mangled names, _Znwm for operator new(size_t); the nothrow forms
 * take a std::nothrow_t reference */
#define CXX_SYMBOLS                                                                                \
	[MS_IP_CXX_NEW] = "_Znwm", [MS_IP_CXX_NEWARRAY] = "_Znam", [MS_IP_CXX_DELETE] = "_ZdlPv",  \
	[MS_IP_CXX_DELETEARRAY] = "_ZdaPv", [MS_IP_CXX_DELETE_SIZED] = "_ZdlPvm",                  \
	[MS_IP_CXX_DELETEARRAY_SIZED] = "_ZdaPvm"
#define CXX_NOTHROW_SYMBOLS                                                                        \
	[MS_IP_CXX_NEW_NOTHROW] = "_ZnwmRKSt9nothrow_t",                                           \
	[MS_IP_CXX_NEWARRAY_NOTHROW] = "_ZnamRKSt9nothrow_t",                                      \
	[MS_IP_CXX_DELETE_NOTHROW] = "_ZdlPvRKSt9nothrow_t",                                       \
	[MS_IP_CXX_DELETEARRAY_NOTHROW] = "_ZdaPvRKSt9nothrow_t"

#define CXX_OPERATORS                                                                              \
	ALLOC(_Znwm, MS_IP_CXX_NEW, (size_t size), (size), size)                                   \
	ALLOC(_Znam, MS_IP_CXX_NEWARRAY, (size_t size), (size), size)                              \
	FREE(_ZdlPv, MS_IP_CXX_DELETE, (void *ptr), (ptr), ptr)                                    \
	FREE(_ZdaPv, MS_IP_CXX_DELETEARRAY, (void *ptr), (ptr), ptr)                               \
	FREE(_ZdlPvm, MS_IP_CXX_DELETE_SIZED, (void *ptr, size_t size), (ptr, size), ptr)          \
	FREE(_ZdaPvm, MS_IP_CXX_DELETEARRAY_SIZED, (void *ptr, size_t size), (ptr, size), ptr)
#define CXX_NOTHROW_OPERATORS                                                                      \
	ALLOC(_ZnwmRKSt9nothrow_t, MS_IP_CXX_NEW_NOTHROW, (size_t size, const void *nt),           \
	      (size, nt), size)                                                                    \
	ALLOC(_ZnamRKSt9nothrow_t, MS_IP_CXX_NEWARRAY_NOTHROW, (size_t size, const void *nt),      \
	      (size, nt), size)                                                                    \
	FREE(_ZdlPvRKSt9nothrow_t, MS_IP_CXX_DELETE_NOTHROW, (void *ptr, const void *nt),          \
	     (ptr, nt), ptr)                                                                       \
	FREE(_ZdaPvRKSt9nothrow_t, MS_IP_CXX_DELETEARRAY_NOTHROW, (void *ptr, const void *nt),     \
	     (ptr, nt), ptr)

#endif
