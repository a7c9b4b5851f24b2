/* preload.c: libmemscope-preload.so, the in-process source. memscope-bpf --in-process
 * preloads it into a command it launches: it interposes the C library's allocation
 * functions, forwards each call to the next definition (libc's, or a preloaded or linked
 * jemalloc's, tcmalloc's, mimalloc's) and writes the same 64-byte records the BPF programs
 * write into a per-thread ring of the daemon's shared memory (include/memscope_shm.h), through
 * the shim it holds (shim.c; the allocator families' libraries use it too). */
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include "shim.h"

/* ---------------------------------------------------------------- the real functions */

static void *real[MS_IP_NFN];

/* Never a tail call: dlsym looks for the next definition after the object its caller is
 * in, which must be this one, not the shim's */
__attribute__((optimize("no-optimize-sibling-calls"))) static void *next(const char *symbol)
{
	return dlsym(RTLD_NEXT, symbol);
}

static const char *const symbol[MS_IP_NFN] = {
	[MS_IP_MALLOC] = "malloc",
	[MS_IP_CALLOC] = "calloc",
	[MS_IP_REALLOC] = "realloc",
	[MS_IP_FREE] = "free",
	[MS_IP_POSIX_MEMALIGN] = "posix_memalign",
	[MS_IP_ALIGNED_ALLOC] = "aligned_alloc",
	[MS_IP_MEMALIGN] = "memalign",
	[MS_IP_VALLOC] = "valloc",
	[MS_IP_PVALLOC] = "pvalloc",
	[MS_IP_REALLOCARRAY] = "reallocarray",
};

const struct ms_shim_family ms_shim_libc = { symbol, real, next, 0 };

/* The next definition of name (interposed as FN), typed as name */
#define REAL(name, FN) ((__typeof__(&name))real[FN])

/* ---------------------------------------------------------------- the interposers */

MS_EXPORT void *malloc(size_t size)
{
	uint64_t caller = MS_CALLER;
	uint8_t fl;
	void *p;

	if (unlikely(!ms_shim_ready()))
		return ms_shim_boot_alloc(size);
	if (!ms_shim_recording())
		return REAL(malloc, MS_IP_MALLOC)(size);
	fl = ms_shim_enter(MS_IP_MALLOC);
	p = REAL(malloc, MS_IP_MALLOC)(size);
	ms_shim_leave();
	ms_shim_emit(MS_EV_ALLOC, fl, MS_IP_MALLOC, (uintptr_t)p, size, 0, caller);
	return p;
}

MS_EXPORT void free(void *p)
{
	uint64_t caller = MS_CALLER;
	uint8_t fl;

	if (unlikely(!p || ms_shim_in_boot(p)))
		return;
	if (unlikely(!ms_shim_ready()))
		return;
	if (!ms_shim_recording()) {
		REAL(free, MS_IP_FREE)(p);
		return;
	}
	fl = ms_shim_enter(MS_IP_FREE);
	ms_shim_emit(MS_EV_FREE, fl, MS_IP_FREE, (uintptr_t)p, 0, 0, caller);
	REAL(free, MS_IP_FREE)(p);
	ms_shim_leave();
}

MS_EXPORT void *calloc(size_t nmemb, size_t size)
{
	uint64_t caller = MS_CALLER;
	size_t bytes;
	uint8_t fl;
	void *p;

	if (unlikely(!ms_shim_ready())) {
		if (__builtin_mul_overflow(nmemb, size, &bytes))
			return NULL;
		p = ms_shim_boot_alloc(bytes);
		return p ? memset(p, 0, bytes) : NULL; /* the arena may have been used before */
	}
	if (!ms_shim_recording())
		return REAL(calloc, MS_IP_CALLOC)(nmemb, size);
	fl = ms_shim_enter(MS_IP_CALLOC);
	p = REAL(calloc, MS_IP_CALLOC)(nmemb, size);
	ms_shim_leave();
	ms_shim_emit(MS_EV_ALLOC, fl, MS_IP_CALLOC, (uintptr_t)p, ms_shim_product(nmemb, size), 0,
		     caller);
	return p;
}

/* realloc and reallocarray */
static void *realloc_kind(uint16_t fn, void *old, size_t nmemb, size_t size, uint64_t caller)
{
	uint64_t bytes = ms_shim_product(nmemb, size);
	uint8_t fl = ms_shim_enter(fn);
	void *p;

	ms_shim_realloc_entry(fn, fl, old, bytes, caller);
	p = fn == MS_IP_REALLOC ? REAL(realloc, MS_IP_REALLOC)(old, size) :
				  REAL(reallocarray, MS_IP_REALLOCARRAY)(old, nmemb, size);
	ms_shim_leave();
	ms_shim_realloc_outcome(fn, fl, old, bytes, p, caller);
	return p;
}

MS_EXPORT void *realloc(void *old, size_t size)
{
	uint64_t caller = MS_CALLER;
	void *p;

	if (unlikely(ms_shim_in_boot(old))) { /* a bootstrap block moves out */
		size_t had = *(size_t *)((char *)old - 16);

		p = malloc(size);
		if (p)
			memcpy(p, old, had < size ? had : size);
		return p;
	}
	if (unlikely(!ms_shim_ready()))
		return ms_shim_boot_alloc(size);
	if (!ms_shim_recording())
		return REAL(realloc, MS_IP_REALLOC)(old, size);
	return realloc_kind(MS_IP_REALLOC, old, 1, size, caller);
}

MS_EXPORT void *reallocarray(void *old, size_t nmemb, size_t size)
{
	uint64_t caller = MS_CALLER;
	size_t bytes;

	if (unlikely(ms_shim_in_boot(old) || !ms_shim_ready() ||
		     !REAL(reallocarray, MS_IP_REALLOCARRAY))) {
		if (__builtin_mul_overflow(nmemb, size, &bytes)) {
			errno = ENOMEM;
			return NULL;
		}
		return realloc(old, bytes);
	}
	if (!ms_shim_recording())
		return REAL(reallocarray, MS_IP_REALLOCARRAY)(old, nmemb, size);
	return realloc_kind(MS_IP_REALLOCARRAY, old, nmemb, size, caller);
}

MS_EXPORT int posix_memalign(void **out, size_t align, size_t size)
{
	uint64_t caller = MS_CALLER;
	uint8_t fl;
	int err;

	if (unlikely(!ms_shim_ready() || !REAL(posix_memalign, MS_IP_POSIX_MEMALIGN)))
		return ENOMEM;
	if (!ms_shim_recording())
		return REAL(posix_memalign, MS_IP_POSIX_MEMALIGN)(out, align, size);
	fl = ms_shim_enter(MS_IP_POSIX_MEMALIGN);
	err = REAL(posix_memalign, MS_IP_POSIX_MEMALIGN)(out, align, size);
	ms_shim_leave();
	ms_shim_emit(MS_EV_ALLOC, fl, MS_IP_POSIX_MEMALIGN, err ? 0 : (uintptr_t)*out, size,
		     (uint64_t)(uint32_t)err, caller);
	return err;
}

/* The aligned and page allocators: one shape */
#define ALIGNED(name, FN, params, args, size)                                                      \
	MS_EXPORT void *name params                                                                \
	{                                                                                          \
		uint64_t caller = MS_CALLER;                                                       \
		uint8_t fl;                                                                        \
		void *p;                                                                           \
                                                                                                   \
		if (unlikely(!ms_shim_ready() || !REAL(name, FN)))                                 \
			return NULL;                                                               \
		if (!ms_shim_recording())                                                          \
			return REAL(name, FN) args;                                                \
		fl = ms_shim_enter(FN);                                                            \
		p = REAL(name, FN) args;                                                           \
		ms_shim_leave();                                                                   \
		ms_shim_emit(MS_EV_ALLOC, fl, FN, (uintptr_t)p, size, 0, caller);                  \
		return p;                                                                          \
	}

ALIGNED(aligned_alloc, MS_IP_ALIGNED_ALLOC, (size_t align, size_t size), (align, size), size)
ALIGNED(memalign, MS_IP_MEMALIGN, (size_t align, size_t size), (align, size), size)
ALIGNED(valloc, MS_IP_VALLOC, (size_t size), (size), size)
ALIGNED(pvalloc, MS_IP_PVALLOC, (size_t size), (size), size)
