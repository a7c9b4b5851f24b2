/* presets.h: allocators memscope-bpf knows by their functions (libc, jemalloc, ...) */
#ifndef MS_PRESETS_H
#define MS_PRESETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "memscope.h"

/* An allocator's kind, as recordings store it (values never change): a preset's, or custom
 * for one named by --alloc; its name is the first preset's of that kind */
enum ms_alloc_kind {
	MS_AK_LIBC,
	MS_AK_JEMALLOC,
	MS_AK_TCMALLOC,
	MS_AK_MIMALLOC,
	MS_AK_PYMALLOC,
	MS_AK_RUST,
	MS_AK_CUSTOM,
	MS_AK_MAX,
};

/* Function flags */
#define MS_FNF_BACKING_ONLY 0x1 /* recorded only inside another allocator's call (mmap) */
#define MS_FNF_FAIL_M1 0x2	/* returns (void *)-1 on failure, not NULL (mmap) */
#define MS_FNF_FRAME 0x4	/* a free-kind function whose own calls are its backing */

/* A traced function, by role: which arguments hold the size, count, block, out-pointer */
struct ms_fn_spec {
	const char *name;
	enum ms_fn_kind kind;
	uint8_t size_arg, nmemb_arg, ptr_arg, out_arg; /* 0-5, or MS_ARG_NONE */
	uint8_t flags;				       /* MS_FNF_* */
};

struct ms_preset {
	const char *name; /* --preset NAME, and the allocator's name */
	enum ms_alloc_kind kind;
	bool automatic;		     /* probed wherever found, without --preset */
	const char *marker;	     /* a function only this allocator defines; NULL: libc */
	const char *const *prefixes; /* symbol prefixes it may be built with ("je_") */
	bool rust_names;	     /* also match Rust's v0-mangled names */
	const struct ms_fn_spec *fns;
	size_t nfns;
};

extern const struct ms_preset ms_presets[];
extern const size_t ms_npresets;

/* The preset called name, or NULL */
const struct ms_preset *ms_preset_find(const char *name);

/* The kind's name in reports ("libc", ..., "custom"), "unknown" past MS_AK_MAX */
const char *ms_alloc_kind_name(unsigned kind);

/* The libc preset (the first) */
#define MS_PRESET_LIBC (&ms_presets[0])

#endif
