/* stacktab.h: the in-process source's stack table (include/memscope_shm.h, struct
 * ms_shm_stack): lock-free insert, deduplicated by the frames, in the command's library
 * (shim.c); look-up by id in the daemon (user/stackmap.c) */
#ifndef MS_PRELOAD_STACKTAB_H
#define MS_PRELOAD_STACKTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "memscope_shm.h"

/* The table's bytes for slots slots of depth frames */
size_t ms_stacktab_bytes(uint32_t slots, uint32_t depth);

/*
 * The id of the stack ip[0..n) (1 <= n <= st->depth): MS_STACK_INPROC | its slot, the
 * slot it already has or a free one claimed and written, its frames published (release)
 * before it returns. -1 when the table holds st->max stacks and not this one (counted in
 * st->lost). No lock: a writer waits for another only while that one writes the frames of
 * a slot of the same hash (the same stack, most likely), or holds the last of st->max for a
 * stack that may be this one; after about 0.1 s it waits no more (a writer that died or is
 * stopped: the stack then takes another slot, or is lost). O(n) plus the probes, about 1.5
 * at the table's fill (at most a half).
 */
int32_t ms_stacktab_insert(struct ms_shm_stacks *st, void *table, const uint64_t *ip, unsigned n,
			   uint32_t tid);

/* The frames of id, published (*n of them), or NULL: not an id of this table, or a slot
 * not written yet (or written with a count out of range) */
const uint64_t *ms_stacktab_get(const struct ms_shm_stacks *st, const void *table, int32_t id,
				unsigned *n);

static inline bool ms_stacktab_is_id(int32_t id)
{
	return id >= 0 && (id & MS_STACK_INPROC);
}

#endif
