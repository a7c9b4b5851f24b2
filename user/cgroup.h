/* cgroup.h: a process' cgroup and container, from /proc/PID/cgroup, cached per pid */
#ifndef MS_CGROUP_H
#define MS_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define MS_CONTAINER_ID_LEN 64

/* The cgroup of one process */
struct ms_cgroup {
	pid_t pid;
	bool marked; /* asked for in the current pass */
	char *path;  /* owned; NULL in the root cgroup or when unknown */
	char container[MS_CONTAINER_ID_LEN + 1]; /* "" when the path names none */
};

/*
 * The cgroup path in the text of a /proc/PID/cgroup file: the unified hierarchy's line
 * ("0::/path"), else (cgroup v1) the name=systemd hierarchy's, else the memory
 * controller's. Returns a new string (free() it), or NULL for the root cgroup ("/"), for
 * text with none of those lines, or on ENOMEM. O(strlen(text)).
 */
char *ms_cgroup_parse(const char *text);

/*
 * The container a cgroup path names: its last run of exactly 64 lowercase hex digits
 * (docker, containerd, cri-o and podman name a container's cgroup after its id), into id;
 * "" when there is none. O(strlen(path)).
 */
void ms_container_id(const char *path, char id[MS_CONTAINER_ID_LEN + 1]);

/*
 * The cgroups of the processes seen, each read once: the file of a live process is not
 * read again. Used in passes: ms_cgroups_get for each live process, then ms_cgroups_end.
 * Not thread-safe.
 */
struct ms_cgroups {
	char proc_root[256];
	struct ms_cgroup *v; /* sorted by pid, but for what the current pass has added */
	size_t n, cap, nsorted;
};

/* An empty cache reading proc_root/PID/cgroup ("/proc" when NULL) */
void ms_cgroups_init(struct ms_cgroups *c, const char *proc_root);

/*
 * pid's cgroup, marked as asked for in this pass: from the cache, else read now (one
 * open and read of a small file) and added. Ask once per pid in a pass: what the pass
 * adds is found only after ms_cgroups_end. Returns NULL on ENOMEM; the entry stays valid
 * until the next ms_cgroups_get, ms_cgroups_end or ms_cgroups_drop. O(log n).
 */
const struct ms_cgroup *ms_cgroups_get(struct ms_cgroups *c, pid_t pid);

/*
 * Ends a pass: sorts what it added; when complete (every live process was asked for),
 * forgets the pids it did not ask for. O(n log n) when it added any, else O(n).
 */
void ms_cgroups_end(struct ms_cgroups *c, bool complete);

/* pid's cached cgroup, or NULL: nothing is read. O(log n) */
const struct ms_cgroup *ms_cgroups_find(const struct ms_cgroups *c, pid_t pid);

/* pid's cgroup read now into *out, not cached (out->path is the caller's to free) */
void ms_cgroups_read(const struct ms_cgroups *c, pid_t pid, struct ms_cgroup *out);

/* Forgets pid (it ended: the pid may come back as another process). O(n) */
void ms_cgroups_drop(struct ms_cgroups *c, pid_t pid);

/* Frees what the cache holds; c is an empty cache again */
void ms_cgroups_free(struct ms_cgroups *c);

#endif
