/* procmaps.h: /proc/PID/maps lines, parsed */
#ifndef MS_PROCMAPS_H
#define MS_PROCMAPS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
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
 * Mappings of files on FUSE (pid's mountinfo says which devices) are skipped, and each
 * such device said once on stderr, unless ms_path_trust_fuse(true): its server, maybe the
 * traced user, can leave any read of them (a stat, an open, a uprobe) waiting for good.
 */
typedef int (*ms_maps_fn)(const struct ms_mapping *m, void *ctx);
int ms_maps_for_each_exec(const char *proc_root, pid_t pid, ms_maps_fn fn, void *ctx);

/*
 * The mappings ms_maps_for_each_exec gives, of one process at one moment: read once per
 * attach and handed to everything the attach does (the probes, the symbolizer's copy,
 * the loader probe), so that they all see the same mappings.
 */
struct ms_range {
	uint64_t start, end;
};

struct ms_maps {
	pid_t pid;
	struct ms_mapping *v; /* each path a copy the maps own */
	size_t n, cap;
	struct ms_range *anon; /* the other executable mappings: JIT code, the vDSO, files on
				  FUSE not read */
	size_t nanon, cap_anon;
};

/* Reads pid's mappings into maps (emptied first); 0, -ESRCH when pid is gone, -ENOMEM,
 * or -errno when its maps cannot be read */
int ms_maps_read(const char *proc_root, pid_t pid, struct ms_maps *maps);

/* Calls fn for each mapping of maps in order, as ms_maps_for_each_exec does */
int ms_maps_each(const struct ms_maps *maps, ms_maps_fn fn, void *ctx);

void ms_maps_free(struct ms_maps *maps);

/*
 * The file of mapping m of pid, pinned without trusting the path the process names:
 * /proc/PID/map_files/START-END, which is the mapped file itself whatever replaced its
 * path since (it needs CAP_SYS_ADMIN); else the path as the process sees it,
 * /proc/PID/root/PATH, when that is a regular file with the mapping's device and inode.
 * Nothing is opened for reading (O_PATH): a FIFO or a device put in the file's place
 * never blocks or wakes. Returns the descriptor, its file's identity in st; -ESTALE when
 * the path names another file now, or -errno. Read it through "/proc/self/fd/N".
 */
int ms_maps_pin(const char *proc_root, pid_t pid, const struct ms_mapping *m, struct stat *st);

/* Whether st is the file /proc/PID/maps names by device major:minor and inode */
bool ms_maps_same_file(const struct stat *st, unsigned dev_major, unsigned dev_minor,
		       uint64_t inode);

#endif
