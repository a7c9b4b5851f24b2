/* test_catalog.c: the catalog's contract: ids from 1, finds, limits, names as given */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "catalog.h"
#include "memscope.h"
#include "presets.h"
#include "unit.h"

/* A new catalog knows libc (allocator 1) and no function; ids 0 and past the end are
 * nobody's */
START_TEST(new_catalog)
{
	struct ms_catalog *c = ms_catalog_new();
	const struct ms_allocator *a;

	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(ms_catalog_nallocators(c), 1);
	ck_assert_uint_eq(ms_catalog_nfuncs(c), 0);
	a = ms_catalog_allocator(c, 1);
	ck_assert_ptr_nonnull(a);
	ck_assert_str_eq(a->name, "libc");
	ck_assert_uint_eq(a->kind, MS_AK_LIBC);
	ck_assert_ptr_null(ms_catalog_allocator(c, 0));
	ck_assert_ptr_null(ms_catalog_allocator(c, 2));
	ck_assert_ptr_null(ms_catalog_func(c, 0));
	ck_assert_ptr_null(ms_catalog_func(c, 1));
	ms_catalog_free(c);
	ms_catalog_free(NULL);
}
END_TEST

/* Allocators: by name, added once with their kind; libc by name is 1; a long name is cut */
START_TEST(allocator_ids)
{
	struct ms_catalog *c = ms_catalog_new();
	char long_name[64];

	ck_assert_int_eq(ms_catalog_allocator_id(c, "libc", MS_AK_LIBC), 1);
	ck_assert_int_eq(ms_catalog_allocator_id(c, "jemalloc", MS_AK_JEMALLOC), 2);
	ck_assert_int_eq(ms_catalog_allocator_id(c, "objpool", MS_AK_CUSTOM), 3);
	/* the second time, the same id, the first kind kept */
	ck_assert_int_eq(ms_catalog_allocator_id(c, "jemalloc", MS_AK_CUSTOM), 2);
	ck_assert_uint_eq(ms_catalog_allocator(c, 2)->kind, MS_AK_JEMALLOC);
	ck_assert_uint_eq(ms_catalog_allocator(c, 3)->kind, MS_AK_CUSTOM);
	ck_assert_uint_eq(ms_catalog_nallocators(c), 3);
	memset(long_name, 'x', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	ck_assert_int_eq(ms_catalog_allocator_id(c, long_name, MS_AK_CUSTOM), 4);
	ck_assert_uint_eq(strlen(ms_catalog_allocator(c, 4)->name), MS_ALLOCATOR_NAME_LEN - 1);
	ck_assert_int_eq(
		strncmp(ms_catalog_allocator(c, 4)->name, long_name, MS_ALLOCATOR_NAME_LEN - 1), 0);
	ms_catalog_free(c);
}
END_TEST

/* Functions: ids from 1 in the order added; found by name, allocator and kind alike; a
 * name of aliases joined by '/' is one name, found whole, never by one of its parts */
START_TEST(functions)
{
	struct ms_catalog *c = ms_catalog_new();
	struct ms_func m = { .name = "malloc", .allocator = 1, .kind = MS_FN_ALLOC };
	struct ms_func al = { .name = "aligned_alloc/memalign",
			      .allocator = 1,
			      .kind = MS_FN_ALLOC };
	struct ms_func jm = { .name = "malloc", .kind = MS_FN_ALLOC, .fixed_size = 64 };
	const struct ms_func *f;

	jm.allocator = ms_catalog_allocator_id(c, "jemalloc", MS_AK_JEMALLOC);
	ck_assert_int_eq(ms_catalog_add_func(c, &m), 1);
	ck_assert_int_eq(ms_catalog_add_func(c, &al), 2);
	ck_assert_int_eq(ms_catalog_add_func(c, &jm), 3);
	ck_assert_uint_eq(ms_catalog_nfuncs(c), 3);
	ck_assert_uint_eq(ms_catalog_find_func(c, "malloc", 1, MS_FN_ALLOC), 1);
	ck_assert_uint_eq(ms_catalog_find_func(c, "malloc", jm.allocator, MS_FN_ALLOC), 3);
	ck_assert_uint_eq(ms_catalog_find_func(c, "malloc", 1, MS_FN_FREE), 0);
	ck_assert_uint_eq(ms_catalog_find_func(c, "free", 1, MS_FN_FREE), 0);
	ck_assert_uint_eq(ms_catalog_find_func(c, "aligned_alloc/memalign", 1, MS_FN_ALLOC), 2);
	ck_assert_uint_eq(ms_catalog_find_func(c, "memalign", 1, MS_FN_ALLOC), 0);
	ck_assert_uint_eq(ms_catalog_find_func(c, "aligned_alloc", 1, MS_FN_ALLOC), 0);
	f = ms_catalog_func(c, 2);
	ck_assert_ptr_nonnull(f);
	ck_assert_str_eq(f->name, "aligned_alloc/memalign");
	f = ms_catalog_func(c, 3);
	ck_assert_uint_eq(f->allocator, jm.allocator);
	ck_assert_uint_eq(f->fixed_size, 64);
	ck_assert_ptr_null(ms_catalog_func(c, 4));
	ms_catalog_free(c);
}
END_TEST

/* Full: -ENOSPC past MS_MAX_FUNCS - 1 functions and MS_MAX_ALLOCATORS - 1 allocators,
 * and what was there before stays */
START_TEST(limits)
{
	struct ms_catalog *c = ms_catalog_new();
	struct ms_func f = { .allocator = 1, .kind = MS_FN_ALLOC };
	char name[32];
	unsigned i;

	for (i = 1; i < MS_MAX_FUNCS; i++) {
		snprintf(f.name, sizeof(f.name), "f%u", i);
		ck_assert_int_eq(ms_catalog_add_func(c, &f), i);
	}
	ck_assert_int_eq(ms_catalog_add_func(c, &f), -ENOSPC);
	ck_assert_uint_eq(ms_catalog_nfuncs(c), MS_MAX_FUNCS - 1);
	ck_assert_str_eq(ms_catalog_func(c, MS_MAX_FUNCS - 1)->name, f.name);
	for (i = 2; i < MS_MAX_ALLOCATORS; i++) {
		snprintf(name, sizeof(name), "a%u", i);
		ck_assert_int_eq(ms_catalog_allocator_id(c, name, MS_AK_CUSTOM), i);
	}
	ck_assert_int_eq(ms_catalog_allocator_id(c, "one more", MS_AK_CUSTOM), -ENOSPC);
	/* one it has is still found */
	ck_assert_int_eq(ms_catalog_allocator_id(c, name, MS_AK_CUSTOM), MS_MAX_ALLOCATORS - 1);
	ck_assert_uint_eq(ms_catalog_nallocators(c), MS_MAX_ALLOCATORS - 1);
	ms_catalog_free(c);
}
END_TEST

/* Two catalogs are two: what one learns the other does not know */
START_TEST(independent)
{
	struct ms_catalog *a = ms_catalog_new(), *b = ms_catalog_new();
	struct ms_func f = { .name = "pool_get", .kind = MS_FN_ALLOC };

	f.allocator = ms_catalog_allocator_id(a, "objpool", MS_AK_CUSTOM);
	ck_assert_int_eq(ms_catalog_add_func(a, &f), 1);
	ck_assert_uint_eq(ms_catalog_nfuncs(b), 0);
	ck_assert_uint_eq(ms_catalog_nallocators(b), 1);
	ck_assert_int_eq(ms_catalog_allocator_id(b, "arena", MS_AK_CUSTOM), 2);
	ck_assert_str_eq(ms_catalog_allocator(a, 2)->name, "objpool");
	ms_catalog_free(a);
	ms_catalog_free(b);
}
END_TEST

Suite *catalog_suite(void)
{
	Suite *s = suite_create("catalog");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, new_catalog);
	tcase_add_test(tc, allocator_ids);
	tcase_add_test(tc, functions);
	tcase_add_test(tc, limits);
	tcase_add_test(tc, independent);
	suite_add_tcase(s, tc);
	return s;
}
