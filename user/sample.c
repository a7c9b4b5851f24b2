/* sample.c: --sample-bytes: the gap table and the weights of sampled blocks */
#include <math.h>
#include "sample.h"

void ms_sample_table(uint32_t tab[257])
{
	unsigned i;

	for (i = 0; i <= 256; i++)
		tab[i] = (uint32_t)lround(log2(1.0 + i / 256.0) * 65536.0);
}

double ms_sample_weight(uint64_t size, uint64_t mean)
{
	if (!mean || !size)
		return 1.0;
	return 1.0 / -expm1(-(double)size / (double)mean);
}
