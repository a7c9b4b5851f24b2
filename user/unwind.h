/* unwind.h: what the BPF programs unwind stacks with (--stack-unwind dwarf|auto): each
 * object's CFI rows, and each traced process' executable mappings */
#ifndef MS_UNWIND_H
#define MS_UNWIND_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "procmaps.h"

struct ms_unwind;

/*
 * The maps of the loaded programs: ms_cfi_rows (rows_max rows), ms_cfi_objs (objs_max
 * objects) and ms_cfi_procs. Rows are given out once per object (device and inode) and
 * kept to the end: an object that does not fit any more is unwound by its frame
 * pointers (auto) or not at all (dwarf), and counted. NULL when memory runs out.
 */
struct ms_unwind *ms_unwind_new(int rows_fd, uint32_t rows_max, int objs_fd, uint32_t objs_max,
				int procs_fd, bool verbose);

/*
 * A process' executable mappings (maps, read by ms_maps_read) for the programs: the rows
 * of each object it maps are compiled (cfi.h) the first time, from the mapped file itself
 * (ms_maps_pin); its mapping list replaces the one it had. 0 or -errno.
 */
int ms_unwind_add(struct ms_unwind *u, const struct ms_maps *maps);

/* The process has ended: its mapping list goes */
void ms_unwind_forget(struct ms_unwind *u, pid_t pid);

struct ms_unwind_stats {
	uint64_t objects;      /* objects with rows */
	uint64_t rows;	       /* rows given out */
	uint64_t without_rows; /* objects without .eh_frame (or unreadable) */
	uint64_t no_room;      /* objects past the rows' or objects' room */
	uint64_t maps_dropped; /* mappings past MS_UNWIND_MAPS in one process */
};

void ms_unwind_stats(const struct ms_unwind *u, struct ms_unwind_stats *st);

void ms_unwind_free(struct ms_unwind *u);

#endif
