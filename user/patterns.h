/* patterns.h: how a process allocates: size classes, lifetimes, churn, address reuse */
#ifndef MS_PATTERNS_H
#define MS_PATTERNS_H

#include <stdbool.h>
#include <stdint.h>

#define MS_CLASSES 65	    /* size 0, then [2^k, 2^(k+1)) for k = 0..63 */
#define MS_LIFE_BUCKETS 9   /* <1us <10us <100us <1ms <10ms <100ms <1s <10s >=10s */
#define MS_REUSE_BUCKETS 33 /* reuse distance: 0, then [2^k, 2^(k+1)) other allocations */

#define MS_SMALL_MAX 256	 /* bytes: a small allocation */
#define MS_LARGE_MIN (128 << 10) /* bytes: a large one (glibc's default mmap threshold) */

/* The figures of one power-of-two size class */
struct ms_class {
	uint64_t allocs, alloc_bytes, frees;
	uint64_t live_allocs, live_bytes, peak_bytes;
	uint64_t temporary; /* freed with at most one other allocation in between */
	uint64_t lifetime[MS_LIFE_BUCKETS];
	uint64_t reused_same, reused_other; /* an address back: for the same size, another */
};

/* Patterns of one side of one allocator in one process (kept for user calls) */
struct ms_patterns {
	struct ms_class cls[MS_CLASSES];
	uint64_t small, large; /* allocations of <= MS_SMALL_MAX, >= MS_LARGE_MIN bytes */
	uint64_t reuse_distance[MS_REUSE_BUCKETS];
	uint64_t last_allocs, last_temporary; /* at the previous report, for interval rates */
};

/* The lifetime bucket of ns nanoseconds */
unsigned ms_life_bucket(uint64_t ns);

/* The upper bound in nanoseconds of lifetime bucket b (UINT64_MAX for the last) */
uint64_t ms_life_bucket_limit(unsigned b);

/* A label for lifetime bucket b ("<1ms", ">=10s") */
const char *ms_life_bucket_name(unsigned b);

/* The bucket of a reuse distance (other allocations between a free and the reuse) */
unsigned ms_reuse_bucket(uint64_t distance);

/* The lifetime bucket that holds the median of c's freed blocks, or -1 when none */
int ms_class_median_bucket(const struct ms_class *c);

#endif
