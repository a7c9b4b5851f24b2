/* test_livetab.c: the live-block table against a simple model */
#include <stdlib.h>
#include "livetab.h"
#include "unit.h"

START_TEST(insert_find_remove)
{
	struct ms_livetab t = { 0 };
	struct ms_block *b;
	uint64_t a;

	ck_assert_ptr_null(ms_livetab_find(&t, 0x1000));
	for (a = 0x1000; a < 0x1000 + 5000 * 16; a += 16) {
		b = ms_livetab_insert(&t, a);
		ck_assert_ptr_nonnull(b);
		ms_livetab_store(&t, b, ms_block_meta(a & 0xfff, 3, 0), a);
	}
	ck_assert_uint_eq(t.used, 5000);
	ck_assert_uint_le(t.used * 4 * sizeof(struct ms_block), ms_livetab_bytes(&t) * 3);
	for (a = 0x1000; a < 0x1000 + 5000 * 16; a += 32)
		ms_livetab_remove(&t, ms_livetab_find(&t, a));
	ck_assert_uint_eq(t.used, 2500);
	for (a = 0x1000; a < 0x1000 + 5000 * 16; a += 16) {
		b = ms_livetab_find(&t, a);
		if ((a - 0x1000) % 32 == 0) {
			ck_assert_ptr_null(b);
		} else {
			ck_assert_ptr_nonnull(b);
			ck_assert_uint_eq(ms_block_size(b), a & 0xfff);
			ck_assert_uint_eq(ms_block_func(b), 3);
			ck_assert_uint_eq(b->ts_ns, a);
		}
	}
	ms_livetab_free(&t);
}
END_TEST

/* random operations checked against a plain array model */
START_TEST(random_against_model)
{
	enum { N = 4096 };
	static uint64_t model[N]; /* size + 1 of block i, 0 when absent */
	struct ms_livetab t = { 0 };
	unsigned i, k, seed = 12345;
	size_t present = 0;

	for (k = 0; k < 200000; k++) {
		struct ms_block *b;
		uint64_t addr;

		seed = seed * 1103515245 + 12345;
		i = (seed >> 8) % N;
		/* addresses that collide often: multiples of the table's home stride */
		addr = 0x7f0000000000ULL + (uint64_t)i * 4096 * 16;
		b = ms_livetab_find(&t, addr);
		ck_assert(!!b == !!model[i]);
		if (b) {
			ck_assert_uint_eq(ms_block_size(b), model[i] - 1);
			ms_livetab_remove(&t, b);
			model[i] = 0;
			present--;
		} else {
			b = ms_livetab_insert(&t, addr);
			ms_livetab_store(&t, b, ms_block_meta(k, 1, 0), k);
			model[i] = k + 1;
			present++;
		}
		ck_assert_uint_eq(t.used, present);
	}
	ms_livetab_free(&t);
}
END_TEST

START_TEST(dead_entries)
{
	struct ms_livetab t = { 0 };
	struct ms_block *b;
	uint64_t a;

	b = ms_livetab_insert(&t, 0x5000);
	ms_livetab_store(&t, b, ms_block_meta(10, 1, 0), 1);
	ms_livetab_kill(&t, b);
	ck_assert(ms_block_dead(ms_livetab_find(&t, 0x5000)));
	ck_assert_uint_eq(t.dead, 1);
	/* allocated again: alive, not counted dead */
	b = ms_livetab_insert(&t, 0x5000);
	ck_assert(ms_block_dead(b));
	ms_livetab_store(&t, b, ms_block_meta(20, 1, 0), 2);
	ck_assert(!ms_block_dead(b));
	ck_assert_uint_eq(t.dead, 0);
	ck_assert_uint_eq(ms_block_size(b), 20);
	/* many dead entries are dropped when the table grows past them */
	for (a = 0x100000; a < 0x100000 + 200000 * 16; a += 16) {
		b = ms_livetab_insert(&t, a);
		ms_livetab_store(&t, b, ms_block_meta(8, 1, 0), 0);
		ms_livetab_kill(&t, b);
	}
	ck_assert_uint_le(t.dead, 65536 * 2);
	ck_assert_ptr_nonnull(ms_livetab_find(&t, 0x5000));
	ck_assert(!ms_block_dead(ms_livetab_find(&t, 0x5000)));
	ms_livetab_free(&t);
}
END_TEST

/* Past MS_SHARD_SWITCH slots the table splits into shards that grow one at a time */
START_TEST(sharded)
{
	enum { N = 900000 };
	struct ms_livetab t = { 0 };
	struct ms_block *b;
	uint64_t i, pos = 0, seen = 0;

	for (i = 0; i < N; i++) {
		b = ms_livetab_insert(&t, 0x7f0000000000ULL + i * 48);
		ck_assert_ptr_nonnull(b);
		ms_livetab_store(&t, b, ms_block_meta(i & 0xffff, 1, i & 3), i);
	}
	ck_assert_uint_eq(t.nshards, MS_SHARDS);
	ck_assert_uint_eq(t.used, N);
	/* 32-byte slots at least 3/8 full: at most 86 bytes a block, whatever the moment of
	 * growth */
	ck_assert_uint_le(ms_livetab_bytes(&t), (size_t)N * 86);
	for (i = 0; i < N; i += 2)
		ms_livetab_remove(&t, ms_livetab_find(&t, 0x7f0000000000ULL + i * 48));
	for (i = 0; i < N; i++) {
		b = ms_livetab_find(&t, 0x7f0000000000ULL + i * 48);
		if (i % 2) {
			ck_assert_ptr_nonnull(b);
			ck_assert_uint_eq(ms_block_size(b), i & 0xffff);
			ck_assert_uint_eq(ms_block_node(b), i & 3);
			ck_assert_uint_eq(b->ts_ns, i);
		} else {
			ck_assert_ptr_null(b);
		}
	}
	while (ms_livetab_iter(&t, &pos))
		seen++;
	ck_assert_uint_eq(seen, N / 2);
	ck_assert_uint_eq(t.used, N / 2);
	ms_livetab_free(&t);
}
END_TEST

START_TEST(meta_saturates)
{
	struct ms_block b = { .addr = 1, .meta = ms_block_meta(1ULL << 50, 0x7fff, 0xfe) };

	ck_assert_uint_eq(ms_block_size(&b), MS_BLOCK_SIZE_MASK);
	ck_assert_uint_eq(ms_block_func(&b), 0x7fff);
	ck_assert_uint_eq(ms_block_node(&b), 0xfe);
	ck_assert(!ms_block_dead(&b));
}
END_TEST

Suite *livetab_suite(void)
{
	Suite *s = suite_create("livetab");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, insert_find_remove);
	tcase_add_test(tc, random_against_model);
	tcase_add_test(tc, dead_entries);
	tcase_add_test(tc, sharded);
	tcase_set_timeout(tc, 60); /* the sharded table holds nearly a million blocks */
	tcase_add_test(tc, meta_saturates);
	suite_add_tcase(s, tc);
	return s;
}
