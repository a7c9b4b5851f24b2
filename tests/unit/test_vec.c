/* test_vec.c: the growable array (vec.h) and the index by two-word key (keyidx.h) */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include "unit.h"
#include "keyidx.h"
#include "vec.h"

/* Pushes keep what was there, capacity doubles from 8, new room is zero */
START_TEST(grows_by_doubling)
{
	unsigned *v = NULL;
	size_t n = 0, cap = 0, i;

	ck_assert_int_eq(MS_VEC_RESERVE(v, cap, 0), 0);
	ck_assert_ptr_null(v);
	for (i = 0; i < 1000; i++) {
		ck_assert_int_eq(MS_VEC_RESERVE(v, cap, n + 1), 0);
		ck_assert_uint_eq(v[n], 0);
		v[n++] = i * 7;
		ck_assert_uint_ge(cap, n);
	}
	ck_assert_uint_eq(cap, 1024);
	for (i = 0; i < n; i++)
		ck_assert_uint_eq(v[i], i * 7);
	ck_assert_uint_eq(v[1000], 0);
	ck_assert_uint_eq(v[1023], 0);
	/* an index far ahead: room up to it, all of it zero */
	ck_assert_int_eq(MS_VEC_RESERVE(v, cap, 5000), 0);
	ck_assert_uint_eq(cap, 8192);
	ck_assert_uint_eq(v[4999], 0);
	ck_assert_uint_eq(v[999], 999 * 7);
	free(v);
}
END_TEST

/* A size that cannot be allocated or would overflow leaves the array as it was */
START_TEST(overflow_keeps_array)
{
	uint64_t *v = NULL;
	size_t cap = 0;

	ck_assert_int_eq(MS_VEC_RESERVE(v, cap, 3), 0);
	v[2] = 42;
	ck_assert_int_eq(MS_VEC_RESERVE(v, cap, SIZE_MAX / 4), -ENOMEM);
	ck_assert_int_eq(MS_VEC_RESERVE(v, cap, SIZE_MAX), -ENOMEM);
	ck_assert_uint_eq(cap, 8);
	ck_assert_uint_eq(v[2], 42);
	free(v);
}
END_TEST

/* Keys get numbers in order; each is found again after the index grew many times */
START_TEST(keyidx_numbers_in_order)
{
	struct ms_keyidx x = { 0 };
	const long n = 100000;
	long i;

	ck_assert_int_eq(ms_keyidx_get(&x, 1, 2, false), -1);
	ck_assert_uint_eq(x.cap, 0);
	for (i = 0; i < n; i++) {
		/* keys that differ in one word only, and in both */
		ck_assert_int_eq(ms_keyidx_get(&x, 0x400000 + i / 4, i % 4, true), i);
		ck_assert_uint_le(2 * x.n, x.cap);
	}
	ck_assert_uint_eq(x.n, n);
	ck_assert_uint_eq(x.cap, 262144);
	for (i = n - 1; i >= 0; i--)
		ck_assert_int_eq(ms_keyidx_get(&x, 0x400000 + i / 4, i % 4, i & 1), i);
	ck_assert_uint_eq(x.n, n);
	/* a new key without add: not given a number, the index does not grow */
	ck_assert_int_eq(ms_keyidx_get(&x, 7, 7, false), -1);
	ck_assert_int_eq(ms_keyidx_get(&x, 7, 7, true), n);
	ms_keyidx_free(&x);
	ck_assert_ptr_null(x.slot);
	ck_assert_uint_eq(x.n, 0);
}
END_TEST

Suite *vec_suite(void)
{
	Suite *s = suite_create("vec");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, grows_by_doubling);
	tcase_add_test(tc, overflow_keeps_array);
	tcase_add_test(tc, keyidx_numbers_in_order);
	suite_add_tcase(s, tc);
	return s;
}
