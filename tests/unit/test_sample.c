/* test_sample.c: --sample-bytes: the gaps the BPF programs draw (include/memscope.h's
 * ms_sample_gap, with sample.c's table) and the weights that undo the sampling */
#include <math.h>
#include <stdint.h>
#include "memscope.h"
#include "sample.h"
#include "unit.h"

static uint32_t tab[257];

static uint32_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return (uint32_t)(*s >> 32);
}

/* log2(1 + i/256) in Q16, rising from 0 to 1.0 */
START_TEST(table)
{
	unsigned i;

	ms_sample_table(tab);
	ck_assert_uint_eq(tab[0], 0);
	ck_assert_uint_eq(tab[256], 65536);
	ck_assert_uint_eq(tab[128], (uint32_t)lround(log2(1.5) * 65536));
	for (i = 1; i <= 256; i++)
		ck_assert_uint_gt(tab[i], tab[i - 1]);
}
END_TEST

/* The draw is -ln(u / 2^32) * mean to within 1e-4 of the mean, for u over its range */
START_TEST(gap_is_the_exponential_draw)
{
	static const uint32_t us[] = { 1,	   2,	       3,	   1000,
				       65535,	   65536,      123456789,  0x7fffffff,
				       0x80000000, 0xdeadbeef, 0xfffffffe, 0xffffffff };
	const uint64_t mean = 1 << 20;
	unsigned i;

	ms_sample_table(tab);
	for (i = 0; i < sizeof(us) / sizeof(us[0]); i++) {
		double want = -log((double)(us[i] | 1) / 4294967296.0) * mean;
		double got = (double)ms_sample_gap(us[i], mean, tab);

		ck_assert_msg(fabs(got - want) <= 1e-4 * mean + 2, "u %u: %f, expected %f", us[i],
			      got, want);
	}
	ck_assert_uint_eq(ms_sample_gap(0, MS_SAMPLE_MAX, tab),
			  ms_sample_gap(1, MS_SAMPLE_MAX, tab)); /* no overflow at the largest */
	ck_assert_uint_gt(ms_sample_gap(1, MS_SAMPLE_MAX, tab), 22 * MS_SAMPLE_MAX);
}
END_TEST

/* A million draws: the exponential's mean and tail */
START_TEST(gaps_are_exponential)
{
	const uint64_t mean = 100000;
	const unsigned n = 1000000;
	uint64_t s = 0x9e3779b97f4a7c15ULL, g;
	double sum = 0;
	unsigned over1 = 0, over4 = 0, i;

	ms_sample_table(tab);
	for (i = 0; i < n; i++) {
		g = ms_sample_gap(xorshift(&s), mean, tab);
		sum += g;
		over1 += g > mean;
		over4 += g > 4 * mean;
	}
	ck_assert_msg(fabs(sum / n / mean - 1) < 0.005, "mean %f", sum / n / mean);
	ck_assert_msg(fabs((double)over1 / n - exp(-1)) < 0.003, "P(> mean) %f", (double)over1 / n);
	ck_assert_msg(fabs((double)over4 / n - exp(-4)) < 0.001, "P(> 4 mean) %f",
		      (double)over4 / n);
}
END_TEST

/*
 * The BPF programs' scheme (a gap drawn, used up by each allocation's bytes, drawn afresh
 * after each sample) with the weights: the estimated count and bytes of each size come
 * within 6 standard deviations of the truth (deterministic: a fixed seed)
 */
START_TEST(weights_undo_the_sample)
{
	static const struct {
		uint64_t size;
		unsigned per_round; /* allocations of this size in each of the rounds */
	} mix[] = { { 1, 500 }, { 40, 1000 }, { 4000, 100 }, { 1 << 20, 1 } };
	const unsigned rounds = 200;
	const uint64_t mean = 4096;
	double est[4] = { 0 };
	uint64_t s = 42;
	int64_t left = 0;
	unsigned r, k, i;

	ms_sample_table(tab);
	for (r = 0; r < rounds; r++) { /* the sizes interleaved, as a program's are */
		for (k = 0; k < 4; k++) {
			for (i = 0; i < mix[k].per_round; i++) {
				if (!left)
					left = ms_sample_gap(xorshift(&s), mean, tab) + 1;
				left -= mix[k].size;
				if (left > 0)
					continue;
				left = ms_sample_gap(xorshift(&s), mean, tab) + 1;
				est[k] += ms_sample_weight(mix[k].size, mean);
			}
		}
	}
	for (k = 0; k < 4; k++) {
		unsigned n = mix[k].per_round * rounds;
		double p = -expm1(-(double)mix[k].size / mean);
		double sd = sqrt(n * (1 - p) / p);

		ck_assert_msg(fabs(est[k] - n) <= 6 * sd + 1e-9, "size %llu: %f for %u (sd %f)",
			      (unsigned long long)mix[k].size, est[k], n, sd);
	}
	ck_assert(ms_sample_weight(0, mean) == 1.0);
	ck_assert(ms_sample_weight(40, 0) == 1.0);
	ck_assert(fabs(ms_sample_weight(mean, mean) - 1 / (1 - exp(-1))) < 1e-12);
}
END_TEST

Suite *sample_suite(void)
{
	Suite *s = suite_create("sample");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, table);
	tcase_add_test(tc, gap_is_the_exponential_draw);
	tcase_add_test(tc, gaps_are_exponential);
	tcase_add_test(tc, weights_undo_the_sample);
	suite_add_tcase(s, tc);
	return s;
}
