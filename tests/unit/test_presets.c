/* test_presets.c: the preset table (user/presets.c) keeps what presets.h promises: names
 * unique and found, each function's roles fit its kind, libc first and complete, the
 * automatic ones detectable, the kinds' names those of their first presets */
#include <stdbool.h>
#include <string.h>
#include "memscope.h"
#include "presets.h"
#include "unit.h"

#define NONE MS_ARG_NONE

static bool arg_ok(unsigned a)
{
	return a <= 5 || a == NONE;
}

/* Preset names (the --preset values) are unique, each found by ms_preset_find */
START_TEST(names_unique_and_found)
{
	size_t i, j;

	ck_assert_uint_gt(ms_npresets, 0);
	for (i = 0; i < ms_npresets; i++) {
		const struct ms_preset *p = &ms_presets[i];

		ck_assert_ptr_nonnull(p->name);
		ck_assert_uint_gt(strlen(p->name), 0);
		ck_assert_ptr_eq(ms_preset_find(p->name), p);
		for (j = i + 1; j < ms_npresets; j++)
			ck_assert_msg(strcmp(p->name, ms_presets[j].name),
				      "presets %zu and %zu are both called %s", i, j, p->name);
	}
	ck_assert_ptr_null(ms_preset_find("no-such-allocator"));
	ck_assert_ptr_null(ms_preset_find(""));
	ck_assert_ptr_null(ms_preset_find("LIBC"));
}
END_TEST

/* Within a preset each function is traced once */
START_TEST(functions_unique)
{
	size_t i, j, k;

	for (i = 0; i < ms_npresets; i++) {
		const struct ms_preset *p = &ms_presets[i];

		ck_assert_msg(p->fns && p->nfns > 0, "preset %s has no function", p->name);
		for (j = 0; j < p->nfns; j++) {
			ck_assert_msg(p->fns[j].name && p->fns[j].name[0],
				      "preset %s: function %zu "
				      "has no name",
				      p->name, j);
			for (k = j + 1; k < p->nfns; k++)
				ck_assert_msg(strcmp(p->fns[j].name, p->fns[k].name),
					      "preset %s lists %s twice", p->name, p->fns[j].name);
		}
	}
}
END_TEST

/*
 * Each function's roles fit its kind: an alloc has a size (a count only beside a size,
 * an out-pointer only for allocs) and no block; a free a block and nothing else; a realloc
 * a block and a size. Arguments are 0-5 or none, no two roles share one, and the flags
 * go with their kinds (a (void *)-1 failure: an alloc; a frame: a free).
 */
START_TEST(roles_fit_kind)
{
	size_t i, j;

	for (i = 0; i < ms_npresets; i++) {
		const struct ms_preset *p = &ms_presets[i];

		for (j = 0; j < p->nfns; j++) {
			const struct ms_fn_spec *f = &p->fns[j];
			const unsigned args[] = { f->size_arg, f->nmemb_arg, f->ptr_arg,
						  f->out_arg };
			size_t a, b;

			for (a = 0; a < 4; a++) {
				ck_assert_msg(arg_ok(args[a]), "%s:%s: argument %u", p->name,
					      f->name, args[a]);
				for (b = a + 1; b < 4; b++)
					ck_assert_msg(args[a] == NONE || args[a] != args[b],
						      "%s:%s: two roles in argument %u", p->name,
						      f->name, args[a]);
			}
			ck_assert_msg(!(f->flags &
					~(MS_FNF_BACKING_ONLY | MS_FNF_FAIL_M1 | MS_FNF_FRAME)),
				      "%s:%s: unknown flags %#x", p->name, f->name, f->flags);
			switch (f->kind) {
			case MS_FN_ALLOC:
				ck_assert_msg(f->size_arg != NONE && f->ptr_arg == NONE,
					      "%s:%s: an alloc has a size and no block", p->name,
					      f->name);
				ck_assert_msg(!(f->flags & MS_FNF_FRAME), "%s:%s: a frame alloc",
					      p->name, f->name);
				break;
			case MS_FN_FREE:
				ck_assert_msg(f->ptr_arg != NONE && f->size_arg == NONE &&
						      f->nmemb_arg == NONE && f->out_arg == NONE,
					      "%s:%s: a free has a block and nothing else", p->name,
					      f->name);
				ck_assert_msg(!(f->flags & MS_FNF_FAIL_M1),
					      "%s:%s: a free that fails", p->name, f->name);
				break;
			case MS_FN_REALLOC:
				ck_assert_msg(f->ptr_arg != NONE && f->size_arg != NONE &&
						      f->out_arg == NONE,
					      "%s:%s: a realloc has a block and a size", p->name,
					      f->name);
				ck_assert_msg(!(f->flags & (MS_FNF_FAIL_M1 | MS_FNF_FRAME)),
					      "%s:%s: flags %#x on a realloc", p->name, f->name,
					      f->flags);
				break;
			default:
				ck_abort_msg("%s:%s: kind %d in a preset", p->name, f->name,
					     f->kind);
			}
			ck_assert_msg(f->nmemb_arg == NONE || f->size_arg != NONE,
				      "%s:%s: a count without a size", p->name, f->name);
		}
	}
}
END_TEST

static const struct ms_fn_spec *fn_of(const struct ms_preset *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->nfns; i++)
		if (!strcmp(p->fns[i].name, name))
			return &p->fns[i];
	return NULL;
}

/* libc is the first preset (MS_PRESET_LIBC), automatic, with no marker, and traces the C
 * standard's and POSIX's functions and its backing with exactly these roles */
START_TEST(libc_complete)
{
	static const struct ms_fn_spec want[] = {
		{ "malloc", MS_FN_ALLOC, 0, NONE, NONE, NONE, 0 },
		{ "calloc", MS_FN_ALLOC, 1, 0, NONE, NONE, 0 },
		{ "realloc", MS_FN_REALLOC, 1, NONE, 0, NONE, 0 },
		{ "free", MS_FN_FREE, NONE, NONE, 0, NONE, 0 },
		{ "posix_memalign", MS_FN_ALLOC, 2, NONE, NONE, 0, 0 },
		{ "aligned_alloc", MS_FN_ALLOC, 1, NONE, NONE, NONE, 0 },
		{ "memalign", MS_FN_ALLOC, 1, NONE, NONE, NONE, 0 },
		{ "valloc", MS_FN_ALLOC, 0, NONE, NONE, NONE, 0 },
		{ "pvalloc", MS_FN_ALLOC, 0, NONE, NONE, NONE, 0 },
		{ "reallocarray", MS_FN_REALLOC, 2, 1, 0, NONE, 0 },
		{ "mmap", MS_FN_ALLOC, 1, NONE, NONE, NONE, MS_FNF_BACKING_ONLY | MS_FNF_FAIL_M1 },
		{ "munmap", MS_FN_FREE, NONE, NONE, 0, NONE, MS_FNF_BACKING_ONLY },
	};
	const struct ms_preset *libc = MS_PRESET_LIBC;
	size_t i;

	ck_assert_ptr_eq(libc, &ms_presets[0]);
	ck_assert_ptr_eq(ms_preset_find("libc"), libc);
	ck_assert_int_eq(libc->kind, MS_AK_LIBC);
	ck_assert(libc->automatic);
	ck_assert_ptr_null(libc->marker);
	ck_assert_uint_eq(libc->nfns, sizeof(want) / sizeof(want[0]));
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const struct ms_fn_spec *f = fn_of(libc, want[i].name);

		ck_assert_msg(f, "libc does not trace %s", want[i].name);
		ck_assert_msg(f->kind == want[i].kind && f->size_arg == want[i].size_arg &&
				      f->nmemb_arg == want[i].nmemb_arg &&
				      f->ptr_arg == want[i].ptr_arg &&
				      f->out_arg == want[i].out_arg && f->flags == want[i].flags,
			      "libc:%s: kind %d args %u %u %u %u flags %#x", f->name, f->kind,
			      f->size_arg, f->nmemb_arg, f->ptr_arg, f->out_arg, f->flags);
	}
}
END_TEST

/* Only libc's functions are backing (mmap, munmap: seen inside another allocator) */
START_TEST(backing_only_in_libc)
{
	size_t i, j;

	for (i = 1; i < ms_npresets; i++)
		for (j = 0; j < ms_presets[i].nfns; j++)
			ck_assert_msg(!(ms_presets[i].fns[j].flags & MS_FNF_BACKING_ONLY),
				      "%s:%s is backing only", ms_presets[i].name,
				      ms_presets[i].fns[j].name);
}
END_TEST

/*
 * The automatic presets (probed wherever found, without --preset) are libc and the
 * allocators that replace malloc; each but libc is told apart by a marker, unique, and
 * the others need --preset. Symbol prefixes are a NULL-terminated list starting with the
 * plain names; only rust matches Rust's mangled names.
 */
START_TEST(automatic_and_markers)
{
	static const char *const automatic[] = { "libc", "jemalloc", "tcmalloc", "mimalloc" };
	size_t i, j, n = 0;

	for (i = 0; i < ms_npresets; i++) {
		const struct ms_preset *p = &ms_presets[i];
		bool want = false;

		for (j = 0; j < sizeof(automatic) / sizeof(automatic[0]); j++)
			want |= !strcmp(p->name, automatic[j]);
		ck_assert_msg(p->automatic == want, "preset %s: automatic %d", p->name,
			      p->automatic);
		n += p->automatic;
		ck_assert_msg((p->marker == NULL) == (p == MS_PRESET_LIBC), "preset %s: marker %s",
			      p->name, p->marker ? p->marker : "NULL");
		for (j = i + 1; p->marker && j < ms_npresets; j++)
			ck_assert_msg(!ms_presets[j].marker ||
					      strcmp(p->marker, ms_presets[j].marker),
				      "presets %s and %s share the marker %s", p->name,
				      ms_presets[j].name, p->marker);
		ck_assert_msg(p->prefixes && p->prefixes[0] && !p->prefixes[0][0],
			      "preset %s: the plain names first", p->name);
		for (j = 1; p->prefixes[j]; j++)
			ck_assert_msg(p->prefixes[j][0], "preset %s: an empty prefix %zu", p->name,
				      j);
		ck_assert_msg(p->rust_names == (p->kind == MS_AK_RUST), "preset %s: rust_names %d",
			      p->name, p->rust_names);
	}
	ck_assert_uint_eq(n, sizeof(automatic) / sizeof(automatic[0]));
}
END_TEST

/*
 * Kinds keep their values (recordings store them); every kind but custom is a preset's,
 * and its name is its first preset's; custom and past it have names of their own
 */
START_TEST(kinds_and_names)
{
	unsigned k;
	size_t i;

	ck_assert_int_eq(MS_AK_LIBC, 0);
	ck_assert_int_eq(MS_AK_JEMALLOC, 1);
	ck_assert_int_eq(MS_AK_TCMALLOC, 2);
	ck_assert_int_eq(MS_AK_MIMALLOC, 3);
	ck_assert_int_eq(MS_AK_PYMALLOC, 4);
	ck_assert_int_eq(MS_AK_RUST, 5);
	ck_assert_int_eq(MS_AK_CUSTOM, 6);
	for (i = 0; i < ms_npresets; i++)
		ck_assert_msg(ms_presets[i].kind < MS_AK_CUSTOM, "preset %s: kind %d",
			      ms_presets[i].name, ms_presets[i].kind);
	for (k = 0; k < MS_AK_CUSTOM; k++) {
		for (i = 0; i < ms_npresets && ms_presets[i].kind != k; i++)
			;
		ck_assert_msg(i < ms_npresets, "kind %u has no preset", k);
		ck_assert_str_eq(ms_alloc_kind_name(k), ms_presets[i].name);
	}
	ck_assert_str_eq(ms_alloc_kind_name(MS_AK_LIBC), "libc");
	ck_assert_str_eq(ms_alloc_kind_name(MS_AK_CUSTOM), "custom");
	ck_assert_str_eq(ms_alloc_kind_name(MS_AK_MAX), "unknown");
	ck_assert_str_eq(ms_alloc_kind_name(~0u), "unknown");
}
END_TEST

Suite *presets_suite(void)
{
	Suite *s = suite_create("presets");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, names_unique_and_found);
	tcase_add_test(tc, functions_unique);
	tcase_add_test(tc, roles_fit_kind);
	tcase_add_test(tc, libc_complete);
	tcase_add_test(tc, backing_only_in_libc);
	tcase_add_test(tc, automatic_and_markers);
	tcase_add_test(tc, kinds_and_names);
	suite_add_tcase(s, tc);
	return s;
}
