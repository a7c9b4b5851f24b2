/* allocspec.h: allocator functions named on the command line, with argument roles */
#ifndef MS_ALLOCSPEC_H
#define MS_ALLOCSPEC_H

#include <stdbool.h>
#include <stdint.h>
#include <limits.h>
#include "memscope.h"

/*
 * A spec reads like the function's parameter list, each parameter named by its role:
 *   [NAME=][OBJECT:]FUNCTION(ROLE, ...)[=FIXED]
 * Roles: size, nmemb, ptr, out (the block is written through it and the function
 * returns 0 on success), and _ for a parameter that does not matter. NAME groups
 * functions into one allocator ("custom" without one); OBJECT is the file that defines
 * FUNCTION (any mapped object without one); FUNCTION may be a C++ name as written
 * in source (Arena::Allocate); FIXED is the size of every block of an allocator
 * without a size parameter.
 *   --alloc 'objpool=obj_pool_alloc(_, size)'   --alloc 'slab_get(_)=64'
 *   --alloc 'my_memalign(out, _, size)'         --free 'obj_pool_free(_, ptr)'
 *   --realloc '/opt/app/libpool.so:pool_resize(ptr, size)'
 */
struct ms_allocspec {
	enum ms_fn_kind kind;
	char allocator[32];    /* the allocator's name in reports */
	char object[PATH_MAX]; /* "" for any object */
	char function[256];
	uint8_t size_arg, nmemb_arg, ptr_arg, out_arg; /* 0-5 or MS_ARG_NONE */
	uint64_t fixed_size;			       /* 0 when the size is an argument */
	const char *text;			       /* the spec as given */
	bool noted;				       /* said to be waiting for its object */
};

/*
 * Parses text as a spec of kind (MS_FN_ALLOC, MS_FN_FREE or MS_FN_REALLOC). Returns 0,
 * or -EINVAL with a message saying what is wrong and where in err.
 */
int ms_allocspec_parse(const char *text, enum ms_fn_kind kind, struct ms_allocspec *spec, char *err,
		       size_t errlen);

/* The option that gives a spec of kind: "--free", "--realloc", else "--alloc" */
const char *ms_allocspec_option(enum ms_fn_kind kind);

/* Whether a spec names its function as C++ source does (so symbols are demangled) */
int ms_allocspec_demangled(const struct ms_allocspec *spec);

#endif
