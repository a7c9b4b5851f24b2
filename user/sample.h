/* sample.h: --sample-bytes: the table the BPF programs draw sampling gaps with, and the
 * weights that make per-site figures of a sample unbiased */
#ifndef MS_SAMPLE_H
#define MS_SAMPLE_H

#include <stdint.h>

/* log2(1 + i / 256) in Q16 for i = 0..256: ms_sample_gap's table (include/memscope.h) */
void ms_sample_table(uint32_t tab[257]);

/*
 * The weight of a sampled block of size bytes when a thread's allocations are sampled as
 * a Poisson process of mean gap bytes: 1 / P(sampled) = 1 / (1 - exp(-size / mean)) (Go's
 * scaleHeapSample), so that the weights of the sampled blocks sum, in expectation, to
 * the number of blocks; times size, to their bytes. 1 when mean is 0 (no sampling).
 */
double ms_sample_weight(uint64_t size, uint64_t mean);

#endif
