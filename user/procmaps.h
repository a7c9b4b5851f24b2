/* procmaps.h: /proc/PID/maps lines, parsed */
#ifndef MS_PROCMAPS_H
#define MS_PROCMAPS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

struct ms_mapping {
	uint64_t start, end; /* virtual addresses */
	uint64_t offset;     /* file offset of start */
	uint64_t inode;
	unsigned dev_major, dev_minor;
	bool exec;	  /* r-xp: the text of an object */
	bool deleted;	  /* the file was replaced or removed after mapping */
	const char *path; /* points into the caller's line; "" for anonymous mappings */
};

/*
 * Parses one line of /proc/PID/maps (the trailing newline is cut off in place).
 * Paths may contain spaces; a " (deleted)" suffix is removed and reported.
 * Returns 0, or -EINVAL for a line that is not a mapping.
 */
int ms_maps_parse_line(char *line, struct ms_mapping *m);

/*
 * Calls fn for every file-backed executable mapping of pid (whose /proc entry is
 * read below proc_root, "/proc" outside tests). Stops when fn returns non-zero and
 * returns that value; returns 0 after the last mapping, -errno when maps cannot be read.
 */
typedef int (*ms_maps_fn)(const struct ms_mapping *m, void *ctx);
int ms_maps_for_each_exec(const char *proc_root, pid_t pid, ms_maps_fn fn, void *ctx);

#endif
