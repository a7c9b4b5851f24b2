/* patterns.c: bucket arithmetic of the allocation patterns */
#include "patterns.h"

static const uint64_t life_limit[MS_LIFE_BUCKETS] = {
	1000ULL,      10000ULL,	     100000ULL,	     1000000ULL, 10000000ULL,
	100000000ULL, 1000000000ULL, 10000000000ULL, UINT64_MAX,
};

static const char *const life_name[MS_LIFE_BUCKETS] = {
	"<1us", "<10us", "<100us", "<1ms", "<10ms", "<100ms", "<1s", "<10s", ">=10s",
};

unsigned ms_life_bucket(uint64_t ns)
{
	unsigned b = 0;

	while (b < MS_LIFE_BUCKETS - 1 && ns >= life_limit[b])
		b++;
	return b;
}

uint64_t ms_life_bucket_limit(unsigned b)
{
	return b < MS_LIFE_BUCKETS ? life_limit[b] : UINT64_MAX;
}

const char *ms_life_bucket_name(unsigned b)
{
	return b < MS_LIFE_BUCKETS ? life_name[b] : "?";
}

unsigned ms_reuse_bucket(uint64_t distance)
{
	unsigned b = distance ? 64 - __builtin_clzll(distance) : 0;

	return b < MS_REUSE_BUCKETS ? b : MS_REUSE_BUCKETS - 1;
}

int ms_class_median_bucket(const struct ms_class *c)
{
	uint64_t total = 0, seen = 0;
	unsigned b;

	for (b = 0; b < MS_LIFE_BUCKETS; b++)
		total += c->lifetime[b];
	if (!total)
		return -1;
	for (b = 0; b < MS_LIFE_BUCKETS; b++) {
		seen += c->lifetime[b];
		if (seen * 2 >= total)
			return b;
	}
	return MS_LIFE_BUCKETS - 1;
}
