/* test_stacktab.c: the in-process stack table (preload/stacktab.c) as the library writes it
 * and the daemon reads it (user/stackmap.c): ids tagged apart from the BPF maps', one id
 * per stack, a full table, writers on several threads at once */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "stackmap.h"
#include "stacktab.h"
#include "unit.h"

#define DEPTH 8

static struct ms_shm_stacks st;
static void *table;

static void table_new(uint32_t max)
{
	memset(&st, 0, sizeof(st));
	st.max = max;
	st.slots = 2 * max;
	st.depth = DEPTH;
	free(table);
	table = calloc(1, ms_stacktab_bytes(st.slots, st.depth));
	ck_assert_ptr_nonnull(table);
}

/* Stack number k: n frames, all its own */
static unsigned stack_k(unsigned k, uint64_t *ip)
{
	unsigned n = 2 + k % (DEPTH - 1), i;

	for (i = 0; i < n; i++)
		ip[i] = 0x400000 + 0x1000 * (uint64_t)k + 16 * i;
	return n;
}

/* An id is tagged, read back whole; the same frames get it again; others do not */
START_TEST(insert_and_dedup)
{
	uint64_t a[DEPTH] = { 0x10, 0x20, 0x30 }, b[DEPTH] = { 0x10, 0x20, 0x31 };
	const uint64_t *got;
	int32_t ia, ib;
	unsigned n;

	table_new(16);
	ia = ms_stacktab_insert(&st, table, a, 3, 1);
	ck_assert(ms_stacktab_is_id(ia));
	ck_assert_int_ne(ia & MS_STACK_INPROC, 0);
	got = ms_stacktab_get(&st, table, ia, &n);
	ck_assert_ptr_nonnull(got);
	ck_assert_uint_eq(n, 3);
	ck_assert_mem_eq(got, a, 3 * sizeof(*a));
	ck_assert_int_eq(ms_stacktab_insert(&st, table, a, 3, 2), ia);
	/* a prefix, a longer stack, one frame changed: each a stack of its own */
	ck_assert_int_ne(ms_stacktab_insert(&st, table, a, 2, 1), ia);
	a[3] = 0x40;
	ck_assert_int_ne(ms_stacktab_insert(&st, table, a, 4, 1), ia);
	ib = ms_stacktab_insert(&st, table, b, 3, 1);
	ck_assert(ms_stacktab_is_id(ib));
	ck_assert_int_ne(ib, ia);
	ck_assert_uint_eq(st.used, 4);
	ck_assert_uint_eq(st.lost, 0);
	/* bad stacks: none, too deep */
	ck_assert_int_eq(ms_stacktab_insert(&st, table, a, 0, 1), -1);
	ck_assert_int_eq(ms_stacktab_insert(&st, table, a, DEPTH + 1, 1), -1);
	ck_assert_uint_eq(st.lost, 2);
}
END_TEST

/* The tag: BPF stack ids (below 2^30) and -1 are never the table's; a slot out of the
 * table or not written yet reads as nothing */
START_TEST(tag_bit)
{
	uint64_t ip[DEPTH];
	unsigned n;
	int32_t id;

	table_new(4);
	ck_assert(!ms_stacktab_is_id(-1));
	ck_assert(!ms_stacktab_is_id(0));
	ck_assert(!ms_stacktab_is_id(4194303)); /* the BPF maps' largest id */
	ck_assert(ms_stacktab_is_id(MS_STACK_INPROC));
	ck_assert_ptr_null(ms_stacktab_get(&st, table, 3, &n));
	ck_assert_ptr_null(ms_stacktab_get(&st, table, MS_STACK_INPROC | st.slots, &n));
	id = ms_stacktab_insert(&st, table, ip, stack_k(1, ip), 1);
	ck_assert_ptr_nonnull(ms_stacktab_get(&st, table, id, &n));
	/* the same slot number without the tag is a BPF id, not this stack */
	ck_assert_ptr_null(ms_stacktab_get(&st, table, id & ~MS_STACK_INPROC, &n));
	/* claimed, its frames not published: nothing yet */
	((struct ms_shm_stack *)table)->hash = 1;
	((struct ms_shm_stack *)table)->nr = 0;
	ck_assert_ptr_null(ms_stacktab_get(&st, table, MS_STACK_INPROC, &n));
}
END_TEST

/* A full table: a new stack is lost (-1, counted), the ones in it are still found */
START_TEST(full)
{
	uint64_t ip[DEPTH];
	int32_t ids[8];
	unsigned k, n;

	table_new(8);
	for (k = 0; k < 8; k++) {
		ids[k] = ms_stacktab_insert(&st, table, ip, stack_k(k, ip), 1);
		ck_assert(ms_stacktab_is_id(ids[k]));
	}
	ck_assert_uint_eq(st.used, 8);
	ck_assert_int_eq(ms_stacktab_insert(&st, table, ip, stack_k(8, ip), 1), -1);
	ck_assert_int_eq(ms_stacktab_insert(&st, table, ip, stack_k(9, ip), 1), -1);
	ck_assert_uint_eq(st.lost, 2);
	ck_assert_uint_eq(st.used, 8);
	for (k = 0; k < 8; k++) {
		n = stack_k(k, ip);
		ck_assert_int_eq(ms_stacktab_insert(&st, table, ip, n, 1), ids[k]);
	}
	ck_assert_uint_eq(st.lost, 2);
}
END_TEST

#define WRITERS 4
#define STACKS 500

struct writer {
	unsigned from;
	int32_t id[STACKS];
};

static pthread_barrier_t go;

/* Every stack, starting at a different one per writer */
static void *write_all(void *arg)
{
	struct writer *w = arg;
	uint64_t ip[DEPTH];
	unsigned i, k;

	pthread_barrier_wait(&go);
	for (i = 0; i < STACKS; i++) {
		k = (w->from + i) % STACKS;
		w->id[k] = ms_stacktab_insert(&st, table, ip, stack_k(k, ip), w->from + 1);
	}
	return NULL;
}

/* Writers on several threads insert the same stacks at once: one id per stack, the same
 * for every writer, its frames whole; as many slots used as stacks */
START_TEST(concurrent_writers)
{
	static struct writer w[WRITERS];
	pthread_t th[WRITERS];
	uint64_t ip[DEPTH];
	const uint64_t *got;
	unsigned i, k, n, m, slot;
	unsigned char *seen;
	int round;

	for (round = 0; round < 20; round++) {
		table_new(STACKS);
		pthread_barrier_init(&go, NULL, WRITERS);
		for (i = 0; i < WRITERS; i++) {
			w[i].from = i * (STACKS / WRITERS) / 2; /* overlapping runs */
			ck_assert_int_eq(pthread_create(&th[i], NULL, write_all, &w[i]), 0);
		}
		for (i = 0; i < WRITERS; i++)
			pthread_join(th[i], NULL);
		pthread_barrier_destroy(&go);
		ck_assert_uint_eq(st.used, STACKS);
		ck_assert_uint_eq(st.published, STACKS);
		ck_assert_uint_eq(st.lost, 0);
		/* distinct stacks, distinct slots: one pass (a check a pair took seconds under
		 * the sanitizers, past check's default timeout) */
		seen = calloc(st.slots, 1);
		ck_assert_ptr_nonnull(seen);
		for (k = 0; k < STACKS; k++) {
			ck_assert(ms_stacktab_is_id(w[0].id[k]));
			for (i = 1; i < WRITERS; i++)
				ck_assert_int_eq(w[i].id[k], w[0].id[k]);
			slot = (unsigned)(w[0].id[k] & ~MS_STACK_INPROC);
			ck_assert_uint_lt(slot, st.slots);
			ck_assert(!seen[slot]);
			seen[slot] = 1;
			n = stack_k(k, ip);
			got = ms_stacktab_get(&st, table, w[0].id[k], &m);
			ck_assert_ptr_nonnull(got);
			ck_assert_uint_eq(m, n);
			ck_assert_mem_eq(got, ip, n * sizeof(*ip));
		}
		free(seen);
	}
}
END_TEST

/* The daemon reads a tagged id as a BPF stack: the caller, then the frames past the
 * allocation function (the caller not twice); a BPF id still goes to the BPF map (none
 * here: the caller alone) */
START_TEST(stackmap_reads_tagged_ids)
{
	uint64_t ip[DEPTH] = { 0x7000 /* malloc */, 0x1234, 0x2000, 0x3000 }, out[16];
	struct ms_stackmap m;
	int32_t id;

	table_new(4);
	id = ms_stacktab_insert(&st, table, ip, 4, 1);
	ck_assert_int_eq(ms_stackmap_init(&m, -1, DEPTH, 0), 0);
	ck_assert_int_eq(ms_stackmap_set_inproc(&m, table, &st), 0);
	ck_assert_uint_eq(ms_stackmap_frames(&m, id, 0x1234, out, 16), 3);
	ck_assert_uint_eq(out[0], 0x1234);
	ck_assert_uint_eq(out[1], 0x2000);
	ck_assert_uint_eq(out[2], 0x3000);
	ck_assert_uint_eq(ms_stackmap_frames(&m, id, 0x1234, out, 2), 2);
	ck_assert_uint_eq(ms_stackmap_frames(&m, id & ~MS_STACK_INPROC, 0x1234, out, 16), 1);
	ck_assert_uint_eq(ms_stackmap_frames(&m, -1, 0x1234, out, 16), 1);
	/* read once: the copy stays when the slot changes (it never does in a real table) */
	((struct ms_shm_stack *)((char *)table +
				 (size_t)(id & ~MS_STACK_INPROC) * MS_SHM_STACK_BYTES(DEPTH)))
		->ip[2] = 0x9999;
	ck_assert_uint_eq(ms_stackmap_frames(&m, id, 0x1234, out, 16), 3);
	ck_assert_uint_eq(out[1], 0x2000);
	ms_stackmap_free(&m);
}
END_TEST

static void teardown(void)
{
	free(table);
	table = NULL;
}

Suite *stacktab_suite(void)
{
	Suite *s = suite_create("stacktab");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, insert_and_dedup);
	tcase_add_test(tc, tag_bit);
	tcase_add_test(tc, full);
	tcase_add_test(tc, concurrent_writers);
	tcase_add_test(tc, stackmap_reads_tagged_ids);
	suite_add_tcase(s, tc);
	return s;
}
