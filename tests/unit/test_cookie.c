/* test_cookie.c: the attach cookie (include/memscope.h): MS_CK_MAKE and the MS_CK_*
 * decoders round-trip every field over its whole range, and each decoder keeps only its
 * own bits (not its neighbours', not the flags') */
#include <stdbool.h>
#include <stdint.h>
#include "memscope.h"
#include "catalog.h"
#include "unit.h"

/* The flags, each one bit above the fields (bits 48-51) */
static const uint64_t flags[] = { MS_CK_FRAME, MS_CK_STOP, MS_CK_BACKING_ONLY, MS_CK_FAIL_M1 };
#define NFLAGS (sizeof(flags) / sizeof(flags[0]))

/* Every bit of a field of MS_CK_MAKE: bits 0-47 */
#define FIELD_BITS ((1ULL << 48) - 1)

struct fields {
	unsigned func, alloc, kind, size_arg, nmemb_arg, ptr_arg, out_arg;
};

static uint64_t make(const struct fields *f)
{
	return MS_CK_MAKE(f->func, f->alloc, f->kind, f->size_arg, f->nmemb_arg, f->ptr_arg,
			  f->out_arg);
}

/* Whether c decodes to f, whatever flags it also carries. Plain comparisons, not
 * ck_assert (check marks every assertion it passes: too slow for millions) */
static bool decodes(uint64_t c, const struct fields *f)
{
	return MS_CK_FUNC(c) == f->func && MS_CK_ALLOCATOR(c) == f->alloc &&
	       MS_CK_KIND(c) == f->kind && MS_CK_SIZE_ARG(c) == f->size_arg &&
	       MS_CK_NMEMB_ARG(c) == f->nmemb_arg && MS_CK_PTR_ARG(c) == f->ptr_arg &&
	       MS_CK_OUT_ARG(c) == f->out_arg;
}

/* Fails the test, naming the fields, unless c decodes to f and carries exactly the flags
 * `flag_bits` besides them */
static void assert_cookie(uint64_t c, const struct fields *f, uint64_t flag_bits)
{
	if (decodes(c, f) && (c & ~FIELD_BITS) == flag_bits)
		return;
	ck_abort_msg("cookie %#llx: expected func %u alloc %u kind %u args %u %u %u %u and "
		     "flags %#llx",
		     (unsigned long long)c, f->func, f->alloc, f->kind, f->size_arg, f->nmemb_arg,
		     f->ptr_arg, f->out_arg, (unsigned long long)flag_bits);
}

/* The function and allocator ids, each over 0-65535, beside the other field at its
 * lowest, its highest and a mixed value, with and without every flag */
START_TEST(ids_round_trip)
{
	static const unsigned other[] = { 0, 0xffff, 0xa5a5 };
	const uint64_t all = MS_CK_FRAME | MS_CK_STOP | MS_CK_BACKING_ONLY | MS_CK_FAIL_M1;
	unsigned id, i;

	for (id = 0; id <= 0xffff; id++) {
		for (i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
			struct fields a = { id, other[i], MS_FN_ALLOC, 0, MS_ARG_NONE, 5, 3 };
			struct fields b = { other[i], id, MS_FN_FREE, 5, 0, MS_ARG_NONE, 1 };

			assert_cookie(make(&a), &a, 0);
			assert_cookie(make(&b), &b, 0);
			assert_cookie(make(&a) | all, &a, all);
		}
	}
}
END_TEST

/* The kind (0-15) and the four argument indexes (0-7) in every combination, with the ids
 * and the flags varying alongside */
START_TEST(kind_and_args_round_trip)
{
	unsigned i;

	for (i = 0; i < 16 * 8 * 8 * 8 * 8; i++) {
		struct fields f = {
			.func = (i * 2654435761u) & 0xffff,
			.alloc = (i * 40503u) & 0xffff,
			.kind = i >> 12,
			.size_arg = (i >> 9) & 7,
			.nmemb_arg = (i >> 6) & 7,
			.ptr_arg = (i >> 3) & 7,
			.out_arg = i & 7,
		};

		assert_cookie(make(&f), &f, 0);
		assert_cookie(make(&f) | flags[i % NFLAGS], &f, flags[i % NFLAGS]);
	}
}
END_TEST

/* Each decoder keeps its own bits only: a cookie with every other bit set (the other
 * fields, the flags, bits 52-63) decodes to the field's value, every bit of the field
 * clear to 0 */
START_TEST(decoders_mask)
{
	static const struct {
		const char *name;
		int shift;
		uint64_t mask;
	} fld[] = {
		{ "func", 0, 0xffff }, { "alloc", 16, 0xffff }, { "kind", 32, 0xf },
		{ "size", 36, 7 },     { "nmemb", 39, 7 },	{ "ptr", 42, 7 },
		{ "out", 45, 7 },
	};
	unsigned i;

	for (i = 0; i < sizeof(fld) / sizeof(fld[0]); i++) {
		uint64_t own = fld[i].mask << fld[i].shift, c = ~own;
		uint64_t got[7], full[7];
		unsigned j;

		got[0] = MS_CK_FUNC(c);
		got[1] = MS_CK_ALLOCATOR(c);
		got[2] = MS_CK_KIND(c);
		got[3] = MS_CK_SIZE_ARG(c);
		got[4] = MS_CK_NMEMB_ARG(c);
		got[5] = MS_CK_PTR_ARG(c);
		got[6] = MS_CK_OUT_ARG(c);
		full[0] = MS_CK_FUNC(own);
		full[1] = MS_CK_ALLOCATOR(own);
		full[2] = MS_CK_KIND(own);
		full[3] = MS_CK_SIZE_ARG(own);
		full[4] = MS_CK_NMEMB_ARG(own);
		full[5] = MS_CK_PTR_ARG(own);
		full[6] = MS_CK_OUT_ARG(own);
		for (j = 0; j < 7; j++) {
			uint64_t want = j == i ? 0 : fld[j].mask;

			ck_assert_msg(got[j] == want, "%s of ~%s's bits: %llu, expected %llu",
				      fld[j].name, fld[i].name, (unsigned long long)got[j],
				      (unsigned long long)want);
			want = j == i ? fld[i].mask : 0;
			ck_assert_msg(full[j] == want, "%s of %s's bits: %llu, expected %llu",
				      fld[j].name, fld[i].name, (unsigned long long)full[j],
				      (unsigned long long)want);
		}
	}
}
END_TEST

/* The flags are single bits, apart from each other and from every field, and MS_CK_MAKE
 * sets none of them, even with every field at its highest */
START_TEST(flags_apart)
{
	struct fields top = { 0xffff, 0xffff, 0xf, 7, 7, 7, 7 };
	uint64_t seen = 0;
	unsigned i;

	ck_assert_uint_eq(make(&top), FIELD_BITS);
	for (i = 0; i < NFLAGS; i++) {
		ck_assert_uint_eq(__builtin_popcountll(flags[i]), 1);
		ck_assert_uint_eq(flags[i] & FIELD_BITS, 0);
		ck_assert_uint_eq(flags[i] & seen, 0);
		seen |= flags[i];
		ck_assert_uint_eq(make(&top) & flags[i], 0);
	}
	ck_assert_uint_eq(seen, 0xfULL << 48);
}
END_TEST

/* What the daemon puts in a cookie fits its field: every function and allocator id the
 * tables hand out, every kind, every argument index and MS_ARG_NONE */
START_TEST(values_fit)
{
	struct fields f = { MS_MAX_FUNCS - 1, MS_MAX_ALLOCATORS - 1, MS_FN_DLSTATE, MS_ARG_NONE,
			    MS_ARG_NONE,      MS_ARG_NONE,	     MS_ARG_NONE };
	unsigned k;

	ck_assert_uint_le(MS_MAX_FUNCS, 0x10000);
	ck_assert_uint_le(MS_MAX_ALLOCATORS, 0x10000);
	ck_assert_uint_le(MS_ARG_NONE, 7);
	assert_cookie(make(&f), &f, 0);
	for (k = MS_FN_ALLOC; k <= MS_FN_DLSTATE; k++) {
		struct fields g = { 1, 2, k, 5, MS_ARG_NONE, 0, MS_ARG_NONE };

		ck_assert_uint_le(k, 0xf);
		assert_cookie(make(&g), &g, 0);
	}
}
END_TEST

/* The loader's cookie as probes.c makes it: DLSTATE, no arguments, STOP and no other flag */
START_TEST(loader_cookie)
{
	struct fields d = {
		0, 0, MS_FN_DLSTATE, MS_ARG_NONE, MS_ARG_NONE, MS_ARG_NONE, MS_ARG_NONE
	};
	uint64_t c = make(&d) | MS_CK_STOP;

	assert_cookie(c, &d, MS_CK_STOP);
}
END_TEST

Suite *cookie_suite(void)
{
	Suite *s = suite_create("cookie");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, ids_round_trip);
	tcase_add_test(tc, kind_and_args_round_trip);
	tcase_add_test(tc, decoders_mask);
	tcase_add_test(tc, flags_apart);
	tcase_add_test(tc, values_fit);
	tcase_add_test(tc, loader_cookie);
	suite_add_tcase(s, tc);
	return s;
}
