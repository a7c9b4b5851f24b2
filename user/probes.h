/* probes.h: which functions of which objects are probed, and their uprobe links */
#ifndef MS_PROBES_H
#define MS_PROBES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "allocspec.h"
#include "catalog.h"
#include "memscope.h"
#include "presets.h"
#include "procmaps.h"

struct bpf_program;

/* One probe to place: a function (its aliases joined) at a file offset */
struct ms_probe_point {
	char name[64];	      /* "malloc", "aligned_alloc/memalign" */
	struct ms_fn_spec fn; /* its roles (fn.name is not used) */
	uint16_t allocator;   /* allocator id */
	uint64_t fixed_size;  /* bytes per call, for allocators without a size argument */
	int spec;	      /* the --alloc/--free/--realloc it comes from, or -1 */
	uint64_t entry_off;   /* the function's entry */
	uint64_t file_off;    /* where its entry and return probes go (see placement.h) */
	char insn[32];	      /* the instruction probed there */
	const char *why;      /* why the probe stays at the entry, when it does */
};

/* What to trace: named functions and the presets asked for (automatic ones always) */
struct ms_probe_config {
	const struct ms_allocspec *specs;
	size_t nspecs;
	const struct ms_preset *const *presets; /* --preset */
	size_t npresets;
	bool place; /* move probes off function entries (placement.h) */
	bool cxx;   /* also libstdc++'s operator new and delete (with --stacks) */
	bool multi; /* uprobe_multi links (ulink.h), the programs loaded for them */
	int verbose;
};

struct ms_probes;

/* entry, ret: the programs every function shares; the allocators and functions probed
 * are added to cat, which outlives the probes. Returns NULL with errno set. */
struct ms_probes *ms_probes_new(struct ms_catalog *cat, struct bpf_program *entry,
				struct bpf_program *ret, const struct ms_probe_config *cfg);
void ms_probes_free(struct ms_probes *p);

/*
 * Plans the probes of the ELF object at path (mapped as mapped_path): libc's functions
 * when it is a libc, each known allocator whose marker function it defines, and the
 * named functions. Aliases of one address get one probe, their names joined by '/'.
 * Returns the number of points (at most max), or -errno when the file cannot be read
 * (-ENOEXEC: not a regular file or not ELF; -EFBIG: past the bounds of elfsym.h).
 */
int ms_probes_plan(struct ms_probes *p, const char *path, const char *mapped_path,
		   struct ms_probe_point *pts, size_t max);

/*
 * The catalog id of the function that starts at file offset entry_off of the object at
 * path, named as its probe would be (aliases joined, its allocator), added to the catalog
 * when new: what a call the in-process source saw there counts as. 0 when no traced
 * function starts there, or -errno (the file cannot be read).
 */
int ms_probes_func_at(struct ms_probes *p, const char *path, uint64_t entry_off);

/*
 * Attaches to the allocator functions of every object a process maps (maps, read by
 * ms_maps_read), scoped to scope (or to every process when scope is -1); with loaders, also the loader probe
 * (without stopping) of its dynamic loader, so that libraries loaded later are found.
 * Each object is the mapped file itself (procmaps.h's ms_maps_pin), never what its path
 * names now; an object past the bounds of elfsym.h is skipped, said once on stderr.
 * An object already attached in that scope is not attached again. Returns the number
 * of objects newly attached (0 or more), -ENOENT when pid maps no allocator at all,
 * -ESRCH when pid is gone, or another -errno from the kernel.
 */
int ms_probes_attach_pid(struct ms_probes *p, const struct ms_maps *maps, pid_t scope,
			 bool loaders);

/*
 * Attaches the loader probe to _dl_debug_state in the dynamic loader at path (a
 * launched command's PT_INTERP: a regular file), for pid (-1: every process); with
 * stop, the process is stopped at each link-map change until the daemon has attached
 * to what was mapped and continues it. Nothing is opened in a way that can block.
 */
int ms_probes_attach_loader(struct ms_probes *p, const char *path, pid_t pid, bool stop);

/* The same for the loader pid maps at m: that mapping's file (ms_maps_pin), whatever
 * its path names now */
int ms_probes_attach_loader_mapped(struct ms_probes *p, pid_t pid, const struct ms_mapping *m,
				   bool stop);

/* The first named function (index into cfg->specs) not found in any object so far,
 * or -1 */
int ms_probes_missing_spec(const struct ms_probes *p);

/* The next one after index i, or -1 */
int ms_probes_missing_spec_after(const struct ms_probes *p, int i);

/* Whether the object named by spec i is mapped by a process scanned so far */
bool ms_probes_spec_object_seen(const struct ms_probes *p, int i);

/* Whether a mapped object's path names a C library (glibc's libc.so.6, musl's) */
bool ms_is_libc_path(const char *path);

/* Whether a mapped object's path names a dynamic loader (ld-linux-x86-64.so.2) */
bool ms_is_loader_path(const char *path);

/* entry and return probes attached */
size_t ms_probes_count(const struct ms_probes *p);
size_t ms_probes_objects(const struct ms_probes *p);

#endif
