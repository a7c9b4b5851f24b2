/* catalog.h: one trace's allocators and traced functions; an event's func field indexes it */
#ifndef MS_CATALOG_H
#define MS_CATALOG_H

#include <stdint.h>

#define MS_MAX_FUNCS 4096
#define MS_FUNC_NAME_LEN 64
#define MS_MAX_ALLOCATORS 256
#define MS_ALLOCATOR_NAME_LEN 32

struct ms_func {
	char name[MS_FUNC_NAME_LEN]; /* as reported in by_func: aliases joined by '/' */
	uint16_t allocator;	     /* allocator id */
	uint8_t kind;		     /* enum ms_fn_kind */
	uint64_t fixed_size;	     /* bytes per call for allocators without a size argument */
	uint8_t backing_only;	     /* only ever seen as another allocator's backing (munmap) */
};

struct ms_allocator {
	char name[MS_ALLOCATOR_NAME_LEN]; /* as reported: "libc", "jemalloc", "objpool" */
	uint8_t kind;			  /* enum ms_alloc_kind (presets.h) */
};

/*
 * Written by whoever learns of allocators and functions (the probes, a replay), read by
 * the statistics and everything they feed (output, findings, metrics, the recorder).
 * One per run, made by its driver (main.c, the replay in report.c) and passed to each.
 * Ids are dense and start at 1 (0 means none); nothing is ever removed. Lookups by id are
 * O(1); by name (ms_catalog_allocator_id, ms_catalog_find_func) O(entries).
 */
struct ms_catalog;

/* An empty catalog but for libc, always allocator 1; NULL with errno set */
struct ms_catalog *ms_catalog_new(void);
void ms_catalog_free(struct ms_catalog *c);

/* The id (>= 1) of the allocator with this name (cut to MS_ALLOCATOR_NAME_LEN - 1), added
 * with kind when new; -ENOSPC past MS_MAX_ALLOCATORS - 1 allocators */
int ms_catalog_allocator_id(struct ms_catalog *c, const char *name, unsigned kind);

/* The allocator with id, or NULL */
const struct ms_allocator *ms_catalog_allocator(const struct ms_catalog *c, unsigned id);

/* Allocators known (libc included): their ids are 1 to this */
unsigned ms_catalog_nallocators(const struct ms_catalog *c);

/* Adds a function (a copy of f) and returns its id (>= 1), or -ENOSPC past
 * MS_MAX_FUNCS - 1 functions */
int ms_catalog_add_func(struct ms_catalog *c, const struct ms_func *f);

/* The function with id, or NULL for an unknown id */
const struct ms_func *ms_catalog_func(const struct ms_catalog *c, unsigned id);

/* The id of an already added function with the same name, allocator and kind, or 0 */
unsigned ms_catalog_find_func(const struct ms_catalog *c, const char *name, uint16_t allocator,
			      uint8_t kind);

/* Functions known: their ids are 1 to this */
unsigned ms_catalog_nfuncs(const struct ms_catalog *c);

#endif
