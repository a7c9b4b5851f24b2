/* catalog.c: one trace's allocators and traced functions */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "catalog.h"
#include "presets.h"

struct ms_catalog {
	struct ms_allocator alloc[MS_MAX_ALLOCATORS]; /* [0] unused */
	unsigned nalloc;			      /* the last id */
	struct ms_func funcs[MS_MAX_FUNCS];	      /* [0] unused: "no function" */
	unsigned nfuncs;			      /* the last id */
};

struct ms_catalog *ms_catalog_new(void)
{
	struct ms_catalog *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	strcpy(c->alloc[1].name, "libc");
	c->alloc[1].kind = MS_AK_LIBC;
	c->nalloc = 1;
	return c;
}

void ms_catalog_free(struct ms_catalog *c)
{
	free(c);
}

int ms_catalog_allocator_id(struct ms_catalog *c, const char *name, unsigned kind)
{
	unsigned i;

	for (i = 1; i <= c->nalloc; i++)
		if (!strcmp(c->alloc[i].name, name))
			return i;
	if (c->nalloc + 1 >= MS_MAX_ALLOCATORS)
		return -ENOSPC;
	c->nalloc++;
	memcpy(c->alloc[c->nalloc].name, name, strnlen(name, MS_ALLOCATOR_NAME_LEN - 1));
	c->alloc[c->nalloc].kind = kind;
	return c->nalloc;
}

const struct ms_allocator *ms_catalog_allocator(const struct ms_catalog *c, unsigned id)
{
	return id >= 1 && id <= c->nalloc ? &c->alloc[id] : NULL;
}

unsigned ms_catalog_nallocators(const struct ms_catalog *c)
{
	return c->nalloc;
}

int ms_catalog_add_func(struct ms_catalog *c, const struct ms_func *f)
{
	if (c->nfuncs + 1 >= MS_MAX_FUNCS)
		return -ENOSPC;
	c->funcs[++c->nfuncs] = *f;
	return c->nfuncs;
}

const struct ms_func *ms_catalog_func(const struct ms_catalog *c, unsigned id)
{
	return id >= 1 && id <= c->nfuncs ? &c->funcs[id] : NULL;
}

unsigned ms_catalog_find_func(const struct ms_catalog *c, const char *name, uint16_t allocator,
			      uint8_t kind)
{
	unsigned i;

	for (i = 1; i <= c->nfuncs; i++)
		if (c->funcs[i].allocator == allocator && c->funcs[i].kind == kind &&
		    !strcmp(c->funcs[i].name, name))
			return i;
	return 0;
}

unsigned ms_catalog_nfuncs(const struct ms_catalog *c)
{
	return c->nfuncs;
}
