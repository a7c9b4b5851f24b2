/* probes.h: which functions of which objects are probed, and their uprobe links */
#ifndef MS_PROBES_H
#define MS_PROBES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "memscope.h"

struct bpf_program;

/* A traced function, by role: which arguments hold the size, count, block, out-pointer */
struct ms_fn_spec {
	const char *name;
	enum ms_fn_kind kind;
	uint8_t size_arg, nmemb_arg, ptr_arg, out_arg; /* 0-5, or MS_ARG_NONE */
};

/* Allocator ids (the cookie's allocator field) */
enum ms_allocator_id { MS_ALLOC_LIBC = 1 };

/* The libc functions memscope-bpf traces, in by_func order */
extern const struct ms_fn_spec ms_libc_fns[];
extern const size_t ms_libc_nfns;

/* One probe to place: a function (its aliases joined) at a file offset */
struct ms_probe_point {
	char name[64]; /* "malloc", "aligned_alloc/memalign" */
	const struct ms_fn_spec *spec;
	uint64_t entry_off; /* the function's entry */
	uint64_t file_off;  /* where its entry and return probes go (see placement.h) */
	char insn[32];	    /* the instruction probed there, when placement moved or kept it */
	const char *why;    /* why the probe stays at the entry, when placement found no point */
};

/*
 * Plans the probes for the libc functions of the ELF object at path: finds each
 * function, gives aliases of one address one probe (names joined by '/', in table
 * order) and, with place, moves each probe to the cheapest point of the function's
 * entry path that still sees every call (placement.h). Returns the number of points written to pts (at most max), -ENOENT when
 * the object defines neither malloc nor free, or -errno when it cannot be read.
 */
int ms_probe_plan(const char *path, bool place, struct ms_probe_point *pts, size_t max);

/* Whether a mapped object's path names a C library (glibc's libc.so.6, musl's loader) */
bool ms_is_libc_path(const char *path);

struct ms_probes;

/* entry, ret: the programs every function shares; place: move probes off the entry */
struct ms_probes *ms_probes_new(struct bpf_program *entry, struct bpf_program *ret, bool place,
				int verbose);
void ms_probes_free(struct ms_probes *p);

/*
 * Attaches to the libc that process pid maps, scoped to pid (or to every process when
 * scope is -1). An object already attached in that scope is not attached again.
 * Returns the number of objects newly attached (0 or more), -ENOENT when pid maps no
 * libc, -ESRCH when pid is gone, or another -errno from the kernel.
 */
int ms_probes_attach_pid(struct ms_probes *p, pid_t pid, pid_t scope);

/* Like ms_probes_attach_pid for every process, and also attaches the loader probe
 * (without stopping) to each dynamic loader pid maps, so that a process that maps a
 * libc not seen before is noticed when its loader reports it */
int ms_probes_attach_all(struct ms_probes *p, pid_t pid);

/* Whether a mapped object's path names a dynamic loader (ld-linux-x86-64.so.2) */
bool ms_is_loader_path(const char *path);

/*
 * Attaches the loader probe to _dl_debug_state in the dynamic loader at path, for
 * pid; with stop, the process is stopped at each link-map change until the daemon
 * has attached to what was mapped and continues it.
 */
int ms_probes_attach_loader(struct ms_probes *p, const char *path, pid_t pid, bool stop);

size_t ms_probes_links(const struct ms_probes *p);
size_t ms_probes_objects(const struct ms_probes *p);

#endif
