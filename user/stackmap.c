/* stackmap.c: user stacks from the BPF stack map and the in-process stack table */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "stackmap.h"
#include "stacktab.h"

int ms_stackmap_init(struct ms_stackmap *m, int fd, unsigned depth, unsigned entries)
{
	memset(m, 0, sizeof(*m));
	m->fd = fd;
	m->depth = depth;
	m->entries = entries;
	if (fd < 0)
		return 0;
	m->by_id = calloc(entries, sizeof(*m->by_id));
	return m->by_id ? 0 : -ENOMEM;
}

void ms_stackmap_free(struct ms_stackmap *m)
{
	unsigned i;

	for (i = 0; m->by_id && i < m->entries; i++)
		free(m->by_id[i]);
	free(m->by_id);
	for (i = 0; m->by_slot && i < m->shape.slots; i++)
		free(m->by_slot[i]);
	free(m->by_slot);
	memset(m, 0, sizeof(*m));
	m->fd = -1;
}

int ms_stackmap_set_inproc(struct ms_stackmap *m, const void *table,
			   const struct ms_shm_stacks *shape)
{
	m->by_slot = calloc(shape->slots, sizeof(*m->by_slot));
	if (!m->by_slot)
		return -ENOMEM;
	m->table = table;
	m->shape = *shape;
	return 0;
}

/* The in-process stack with id, copied from the table on first use: [count, ip...] (a
 * slot not published yet is not kept: the record that names it comes after) */
static const uint64_t *inproc_stack_of(struct ms_stackmap *m, int32_t id)
{
	uint32_t slot = (uint32_t)id & ~(uint32_t)MS_STACK_INPROC;
	const uint64_t *ip;
	uint64_t *s;
	unsigned n;

	if (!m->table || slot >= m->shape.slots)
		return NULL;
	if (m->by_slot[slot])
		return m->by_slot[slot];
	ip = ms_stacktab_get(&m->shape, m->table, id, &n);
	if (!ip || !(s = malloc((n + 1) * sizeof(*s))))
		return NULL;
	s[0] = n;
	memcpy(s + 1, ip, n * sizeof(*ip));
	m->by_slot[slot] = s;
	return s;
}

/* The stack with id, read from the map on first use: [count, ip...] */
static const uint64_t *stack_of(struct ms_stackmap *m, int32_t id)
{
	uint64_t *s;
	unsigned n;
	__u32 key = id;

	if (ms_stacktab_is_id(id))
		return inproc_stack_of(m, id);
	if (m->fd < 0 || id < 0 || (unsigned)id >= m->entries)
		return NULL;
	if (m->by_id[id])
		return m->by_id[id];
	s = calloc(m->depth + 1, sizeof(*s));
	if (!s)
		return NULL;
	if (bpf_map_lookup_elem(m->fd, &key, s + 1)) {
		free(s);
		return NULL;
	}
	for (n = 0; n < m->depth && s[n + 1]; n++)
		;
	s[0] = n;
	m->by_id[id] = s;
	return s;
}

unsigned ms_stackmap_frames(struct ms_stackmap *m, int32_t id, uint64_t caller, uint64_t *ips,
			    unsigned max)
{
	const uint64_t *s = stack_of(m, id);
	unsigned n = 0, i;

	if (caller && n < max)
		ips[n++] = caller;
	for (i = 1; s && i < s[0] && n < max; i++) {
		/* the walk may list the caller's frame again: skip a repeat */
		if (n == 1 && s[i + 1] == caller)
			continue;
		ips[n++] = s[i + 1];
	}
	return n;
}
