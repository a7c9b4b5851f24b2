/* presets.c: the functions of the allocators memscope-bpf knows */
#include <string.h>
#include "presets.h"

#define N MS_ARG_NONE
#define A MS_FN_ALLOC
#define F MS_FN_FREE
#define R MS_FN_REALLOC

/* clang-format off */
/* The C standard's and POSIX's allocation functions as most allocators export them
 * (pvalloc is not everywhere) */
#define STD_C_FNS \
	{ "malloc",         A, 0, N, N, N, 0 }, \
	{ "calloc",         A, 1, 0, N, N, 0 }, \
	{ "realloc",        R, 1, N, 0, N, 0 }, \
	{ "free",           F, N, N, 0, N, 0 }, \
	{ "posix_memalign", A, 2, N, N, 0, 0 }, \
	{ "aligned_alloc",  A, 1, N, N, N, 0 }, \
	{ "memalign",       A, 1, N, N, N, 0 }, \
	{ "valloc",         A, 0, N, N, N, 0 }

/* The common forms of C++ operator new and delete */
#define CXX_OPERATORS \
	{ "_Znwm",          A, 0, N, N, N, 0 }, \
	{ "_Znam",          A, 0, N, N, N, 0 }, \
	{ "_ZdlPv",         F, N, N, 0, N, 0 }, \
	{ "_ZdaPv",         F, N, N, 0, N, 0 }, \
	{ "_ZdlPvm",        F, N, N, 0, N, 0 }, \
	{ "_ZdaPvm",        F, N, N, 0, N, 0 }

/* Their nothrow forms */
#define CXX_NOTHROW_OPERATORS \
	{ "_ZnwmRKSt9nothrow_t",      A, 0, N, N, N, 0 }, \
	{ "_ZnamRKSt9nothrow_t",      A, 0, N, N, N, 0 }, \
	{ "_ZdlPvRKSt9nothrow_t",     F, N, N, 0, N, 0 }, \
	{ "_ZdaPvRKSt9nothrow_t",     F, N, N, 0, N, 0 }

static const struct ms_fn_spec libc_fns[] = {
	STD_C_FNS,
	{ "pvalloc",        A, 0, N, N, N, 0 },
	{ "reallocarray",   R, 2, 1, 0, N, 0 },
	/* other allocators' backing: seen only inside their calls */
	{ "mmap",           A, 1, N, N, N, MS_FNF_BACKING_ONLY | MS_FNF_FAIL_M1 },
	{ "munmap",         F, N, N, 0, N, MS_FNF_BACKING_ONLY },
};

/* jemalloc 5: the standard names and its own API; never mallctl, sallocx, nallocx or
 * malloc_usable_size, which are accounting, not allocation */
static const struct ms_fn_spec jemalloc_fns[] = {
	STD_C_FNS,
	{ "mallocx",        A, 0, N, N, N, 0 },
	{ "rallocx",        R, 1, N, 0, N, 0 },
	{ "sdallocx",       F, N, N, 0, N, 0 },
	{ "dallocx",        F, N, N, 0, N, 0 },
	/* its C++ operators, for programs that preload it */
	CXX_OPERATORS,
};

/* gperftools' tcmalloc: C names, tc_ names, C++ operators (aliases of tc_new...) */
static const struct ms_fn_spec tcmalloc_fns[] = {
	STD_C_FNS,
	{ "pvalloc",                A, 0, N, N, N, 0 },
	{ "tc_malloc",              A, 0, N, N, N, 0 },
	{ "tc_calloc",              A, 1, 0, N, N, 0 },
	{ "tc_realloc",             R, 1, N, 0, N, 0 },
	{ "tc_free",                F, N, N, 0, N, 0 },
	{ "tc_free_sized",          F, N, N, 0, N, 0 },
	{ "tc_posix_memalign",      A, 2, N, N, 0, 0 },
	{ "tc_memalign",            A, 1, N, N, N, 0 },
	{ "tc_valloc",              A, 0, N, N, N, 0 },
	{ "tc_pvalloc",             A, 0, N, N, N, 0 },
	{ "tc_malloc_skip_new_handler", A, 0, N, N, N, 0 },
	{ "tc_new",                 A, 0, N, N, N, 0 },
	{ "tc_newarray",            A, 0, N, N, N, 0 },
	{ "tc_new_nothrow",         A, 0, N, N, N, 0 },
	{ "tc_newarray_nothrow",    A, 0, N, N, N, 0 },
	{ "tc_delete",              F, N, N, 0, N, 0 },
	{ "tc_deletearray",         F, N, N, 0, N, 0 },
	{ "tc_delete_nothrow",      F, N, N, 0, N, 0 },
	{ "tc_deletearray_nothrow", F, N, N, 0, N, 0 },
	{ "tc_delete_sized",        F, N, N, 0, N, 0 },
	{ "tc_deletearray_sized",   F, N, N, 0, N, 0 },
	CXX_OPERATORS,
	/* aliases of tc_new_nothrow...: named, not probed twice */
	CXX_NOTHROW_OPERATORS,
};

static const struct ms_fn_spec mimalloc_fns[] = {
	STD_C_FNS,
	{ "pvalloc",            A, 0, N, N, N, 0 },
	{ "mi_malloc",          A, 0, N, N, N, 0 },
	{ "mi_zalloc",          A, 0, N, N, N, 0 },
	{ "mi_malloc_small",    A, 0, N, N, N, 0 },
	{ "mi_calloc",          A, 1, 0, N, N, 0 },
	{ "mi_mallocn",         A, 1, 0, N, N, 0 },
	{ "mi_realloc",         R, 1, N, 0, N, 0 },
	{ "mi_reallocf",        R, 1, N, 0, N, 0 },
	{ "mi_reallocn",        R, 2, 1, 0, N, 0 },
	{ "mi_free",            F, N, N, 0, N, 0 },
	{ "mi_free_size",       F, N, N, 0, N, 0 },
	{ "mi_free_aligned",    F, N, N, 0, N, 0 },
	{ "mi_malloc_aligned",  A, 0, N, N, N, 0 },
	{ "mi_zalloc_aligned",  A, 0, N, N, N, 0 },
	{ "mi_calloc_aligned",  A, 1, 0, N, N, 0 },
	{ "mi_realloc_aligned", R, 1, N, 0, N, 0 },
	{ "mi_posix_memalign",  A, 2, N, N, 0, 0 },
	{ "mi_aligned_alloc",   A, 1, N, N, N, 0 },
	{ "mi_memalign",        A, 1, N, N, N, 0 },
	{ "mi_valloc",          A, 0, N, N, N, 0 },
	{ "mi_pvalloc",         A, 0, N, N, N, 0 },
	{ "mi_new",             A, 0, N, N, N, 0 },
	{ "mi_new_nothrow",     A, 0, N, N, N, 0 },
	{ "mi_heap_malloc",     A, 1, N, N, N, 0 },
	{ "mi_heap_zalloc",     A, 1, N, N, N, 0 },
	{ "mi_heap_calloc",     A, 2, 1, N, N, 0 },
	{ "mi_heap_realloc",    R, 2, N, 1, N, 0 },
	/* aliases of mi_new, mi_free and mi_free_size: named, not probed twice */
	CXX_OPERATORS,
};

/* CPython's object allocator; its arenas (mmap) and large blocks (malloc) are its
 * backing */
static const struct ms_fn_spec pymalloc_fns[] = {
	{ "PyObject_Malloc",  A, 0, N, N, N, 0 },
	{ "PyObject_Calloc",  A, 1, 0, N, N, 0 },
	{ "PyObject_Realloc", R, 1, N, 0, N, 0 },
	{ "PyObject_Free",    F, N, N, 0, N, MS_FNF_FRAME },
};

/* Rust's global allocator entry points: __rust_realloc(ptr, old_size, align, new_size) */
static const struct ms_fn_spec rust_fns[] = {
	{ "__rust_alloc",        A, 0, N, N, N, 0 },
	{ "__rust_alloc_zeroed", A, 0, N, N, N, 0 },
	{ "__rust_realloc",      R, 3, N, 0, N, 0 },
	{ "__rust_dealloc",      F, N, N, 0, N, MS_FNF_FRAME },
};
/* libstdc++'s operators over malloc: probed with --stacks, so that the allocation site
 * is the caller of operator new (libstdc++ keeps no frame pointer to walk through) */
static const struct ms_fn_spec cxx_fns[] = {
	CXX_OPERATORS,
	{ "_ZnwmRKSt9nothrow_t",      A, 0, N, N, N, 0 },
	{ "_ZnamRKSt9nothrow_t",      A, 0, N, N, N, 0 },
	{ "_ZnwmSt11align_val_t",     A, 0, N, N, N, 0 },
	{ "_ZnamSt11align_val_t",     A, 0, N, N, N, 0 },
	{ "_ZdlPvSt11align_val_t",    F, N, N, 0, N, 0 },
	{ "_ZdaPvSt11align_val_t",    F, N, N, 0, N, 0 },
	{ "_ZdlPvmSt11align_val_t",   F, N, N, 0, N, 0 },
	{ "_ZdaPvmSt11align_val_t",   F, N, N, 0, N, 0 },
};
/* clang-format on */

#undef STD_C_FNS
#undef CXX_OPERATORS
#undef CXX_NOTHROW_OPERATORS
#undef N
#undef A
#undef F
#undef R

static const char *const no_prefix[] = { "", NULL };
static const char *const jemalloc_prefixes[] = { "", "je_", "_rjem_", NULL };

#define FNS(a) a, sizeof(a) / sizeof(a[0])
const struct ms_preset ms_presets[] = {
	{ "libc", MS_AK_LIBC, true, NULL, no_prefix, false, FNS(libc_fns) },
	{ "jemalloc", MS_AK_JEMALLOC, true, "mallocx", jemalloc_prefixes, false,
	  FNS(jemalloc_fns) },
	{ "tcmalloc", MS_AK_TCMALLOC, true, "tc_malloc", no_prefix, false, FNS(tcmalloc_fns) },
	{ "mimalloc", MS_AK_MIMALLOC, true, "mi_malloc", no_prefix, false, FNS(mimalloc_fns) },
	{ "pymalloc", MS_AK_PYMALLOC, false, "PyObject_Malloc", no_prefix, false,
	  FNS(pymalloc_fns) },
	{ "rust", MS_AK_RUST, false, "__rust_alloc", no_prefix, true, FNS(rust_fns) },
	/* libc's allocator: C++ new and delete over malloc (with --stacks) */
	{ "libstdc++", MS_AK_LIBC, false, "_ZNSt9bad_allocD0Ev", no_prefix, false, FNS(cxx_fns) },
};
const size_t ms_npresets = sizeof(ms_presets) / sizeof(ms_presets[0]);

const struct ms_preset *ms_preset_find(const char *name)
{
	size_t i;

	for (i = 0; i < ms_npresets; i++)
		if (!strcmp(ms_presets[i].name, name))
			return &ms_presets[i];
	return NULL;
}

const char *ms_alloc_kind_name(unsigned kind)
{
	size_t i;

	for (i = 0; i < ms_npresets; i++)
		if (ms_presets[i].kind == kind)
			return ms_presets[i].name;
	return kind == MS_AK_CUSTOM ? "custom" : "unknown";
}
