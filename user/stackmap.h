/* stackmap.h: user stacks from the BPF stack map, read once per stack id, and from the
 * in-process source's stack table (ids tagged MS_STACK_INPROC) */
#ifndef MS_STACKMAP_H
#define MS_STACKMAP_H

#include <stdint.h>
#include "memscope_shm.h"

struct ms_stackmap {
	int fd;		  /* the BPF stack map; -1 without --stacks */
	unsigned depth;	  /* frames per stack */
	unsigned entries; /* stack ids are below this */
	uint64_t **by_id; /* read stacks, NULL until read; by_id[id][0] is the frame count */
	/* --stacks in-process: the region's stack table (NULL: none), its shape, and its
	 * stacks read, by slot, as by_id */
	const void *table;
	struct ms_shm_stacks shape;
	uint64_t **by_slot;
};

/* 0 or -ENOMEM */
int ms_stackmap_init(struct ms_stackmap *m, int fd, unsigned depth, unsigned entries);
void ms_stackmap_free(struct ms_stackmap *m);

/* The in-process source's stack table too (ms_inproc_stacks): ids tagged MS_STACK_INPROC
 * are its slots. 0 or -ENOMEM. */
int ms_stackmap_set_inproc(struct ms_stackmap *m, const void *table,
			   const struct ms_shm_stacks *shape);

/*
 * The frames of the allocation whose user stack is id and whose call returns to caller,
 * innermost first, into ips (at most max): the caller, then the stack without its first
 * frame (the allocation function itself). At a probe on the entry path the frame-pointer
 * walk starts from the caller's frame, so the caller is taken from the return address.
 * Returns the number of frames (at least 1 when caller is known). An in-process stack
 * (tagged id) has the same layout and reads the same.
 */
unsigned ms_stackmap_frames(struct ms_stackmap *m, int32_t id, uint64_t caller, uint64_t *ips,
			    unsigned max);

#endif
