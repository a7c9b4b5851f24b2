/* funcs.c: the table of traced functions */
#include <errno.h>
#include <string.h>
#include "funcs.h"

static struct ms_func funcs[MS_MAX_FUNCS];
static unsigned nfuncs = 1; /* id 0 is reserved: "no function" */

int ms_funcs_add(const struct ms_func *f)
{
	if (nfuncs >= MS_MAX_FUNCS)
		return -ENOSPC;
	funcs[nfuncs] = *f;
	return nfuncs++;
}

const struct ms_func *ms_funcs_get(unsigned id)
{
	return id && id < nfuncs ? &funcs[id] : NULL;
}

unsigned ms_funcs_find(const char *name, uint16_t allocator, uint8_t kind)
{
	unsigned i;

	for (i = 1; i < nfuncs; i++)
		if (funcs[i].allocator == allocator && funcs[i].kind == kind &&
		    !strcmp(funcs[i].name, name))
			return i;
	return 0;
}

unsigned ms_funcs_count(void)
{
	return nfuncs - 1;
}

void ms_funcs_reset(void)
{
	memset(funcs, 0, sizeof(funcs));
	nfuncs = 1;
}
