/* allocators.c: the table of allocators */
#include <errno.h>
#include <string.h>
#include "allocators.h"

static struct ms_allocator table[MS_MAX_ALLOCATORS] = {
	[1] = { .name = "libc", .kind = MS_AK_LIBC },
};
static unsigned count = 1;

static const char *const kind_names[MS_AK_MAX] = {
	[MS_AK_LIBC] = "libc",	       [MS_AK_JEMALLOC] = "jemalloc", [MS_AK_TCMALLOC] = "tcmalloc",
	[MS_AK_MIMALLOC] = "mimalloc", [MS_AK_PYMALLOC] = "pymalloc", [MS_AK_RUST] = "rust",
	[MS_AK_CUSTOM] = "custom",
};

const char *ms_alloc_kind_name(unsigned kind)
{
	return kind < MS_AK_MAX ? kind_names[kind] : "unknown";
}

int ms_allocators_get_or_add(const char *name, unsigned kind)
{
	unsigned i;

	for (i = 1; i <= count; i++)
		if (!strcmp(table[i].name, name))
			return i;
	if (count + 1 >= MS_MAX_ALLOCATORS)
		return -ENOSPC;
	count++;
	memset(&table[count], 0, sizeof(table[count]));
	memcpy(table[count].name, name, strnlen(name, MS_ALLOCATOR_NAME_LEN - 1));
	table[count].kind = kind;
	return count;
}

const struct ms_allocator *ms_allocators_get(unsigned id)
{
	return id >= 1 && id <= count ? &table[id] : NULL;
}

unsigned ms_allocators_count(void)
{
	return count;
}

void ms_allocators_reset(void)
{
	memset(&table[2], 0, sizeof(table) - 2 * sizeof(table[0]));
	count = 1;
}
