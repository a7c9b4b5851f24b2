/* funcs.h: the table of traced functions; an event's func field indexes it */
#ifndef MS_FUNCS_H
#define MS_FUNCS_H

#include <stdint.h>

#define MS_MAX_FUNCS 4096
#define MS_FUNC_NAME_LEN 64

struct ms_func {
	char name[MS_FUNC_NAME_LEN]; /* as reported in by_func: aliases joined by '/' */
	uint16_t allocator;	     /* allocator id */
	uint8_t kind;		     /* enum ms_fn_kind */
	uint64_t fixed_size;	     /* bytes per call for allocators without a size argument */
	uint8_t backing_only;	     /* only ever seen as another allocator's backing (munmap) */
};

/* Adds a function and returns its id (>= 1; 0 means none), or -ENOSPC. */
int ms_funcs_add(const struct ms_func *f);

/* The function with id, or NULL for an unknown id */
const struct ms_func *ms_funcs_get(unsigned id);

/* The id of an already added function with the same name, allocator and kind, or 0 */
unsigned ms_funcs_find(const char *name, uint16_t allocator, uint8_t kind);

unsigned ms_funcs_count(void);
void ms_funcs_reset(void);

#endif
