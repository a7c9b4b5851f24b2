/* jemalloc.c: libmemscope-preload-jemalloc.so, jemalloc's own API for --in-process: mallocx,
 * rallocx, sdallocx and dallocx, and its C++ operators (new, new[], delete, delete[] and the
 * sized deletes: jemalloc's own code, not aliases), forwarded to the next definition (the jemalloc the command
 * links or preloads). Preloaded only when the command loads a jemalloc (a program that
 * tests for it with a weak reference, `if (mallocx)`, must not find ours alone). Not
 * xallocx: it resizes in place and never allocates; the uprobes do not trace it either
 * (user/presets.c). Unprefixed names only (je_ and _rjem_ builds are static). */
#define FAMILY_ANCHOR MS_IP_JE_MALLOCX
#include "family.h"

static const char *const symbol[MS_IP_NFN] = {
	[MS_IP_JE_MALLOCX] = "mallocx",
	[MS_IP_JE_RALLOCX] = "rallocx",
	[MS_IP_JE_SDALLOCX] = "sdallocx",
	[MS_IP_JE_DALLOCX] = "dallocx",
	CXX_SYMBOLS,
};

ALLOC(mallocx, MS_IP_JE_MALLOCX, (size_t size, int flags), (size, flags), size)
REALLOC(rallocx, MS_IP_JE_RALLOCX, (void *ptr, size_t size, int flags), (ptr, size, flags), ptr,
	size)
FREE(sdallocx, MS_IP_JE_SDALLOCX, (void *ptr, size_t size, int flags), (ptr, size, flags), ptr)
FREE(dallocx, MS_IP_JE_DALLOCX, (void *ptr, int flags), (ptr, flags), ptr)

CXX_OPERATORS

MS_FAMILY(jemalloc);
