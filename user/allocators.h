/* allocators.h: the allocators a trace knows (libc, jemalloc, a user's pool...) */
#ifndef MS_ALLOCATORS_H
#define MS_ALLOCATORS_H

#include <stdint.h>

#define MS_MAX_ALLOCATORS 256
#define MS_ALLOCATOR_NAME_LEN 32

enum ms_alloc_kind {
	MS_AK_LIBC,
	MS_AK_JEMALLOC,
	MS_AK_TCMALLOC,
	MS_AK_MIMALLOC,
	MS_AK_PYMALLOC,
	MS_AK_RUST,
	MS_AK_CUSTOM,
	MS_AK_MAX,
};

struct ms_allocator {
	char name[MS_ALLOCATOR_NAME_LEN]; /* as reported: "libc", "jemalloc", "objpool" */
	uint8_t kind;			  /* enum ms_alloc_kind */
};

/* The kind's name in reports ("libc", ..., "custom") */
const char *ms_alloc_kind_name(unsigned kind);

/* The id (>= 1) of the allocator with this name, added when new; -ENOSPC when full.
 * libc is always id 1. */
int ms_allocators_get_or_add(const char *name, unsigned kind);

/* The allocator with id, or NULL */
const struct ms_allocator *ms_allocators_get(unsigned id);

unsigned ms_allocators_count(void);
void ms_allocators_reset(void);

#endif
