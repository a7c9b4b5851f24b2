/* seed_vec.c: the guide's allocation pattern analysis: frequent small allocations, then one
 * large block
 *
 * usage: seed_vec
 * Like the guide's `vec![i; 10]` (1000 of them) and `vec![0; 1_000_000]` of 4-byte
 * integers: 1000 malloc(40) filled with i and kept, freed all at once (in allocation
 * order) after 150 ms, then one calloc(1000000, 4) (4,000,000 bytes, from mmap) freed after
 * 30 ms. The sleeps make the lifetimes certain: every small block lives 150 ms to 1 s
 * (bucket <1s), the large one 30 ms to 100 ms (<100ms). Prints the process' ground truth
 * (gt.h, exact peak) and its patterns (seed_pat.h), one JSON line each, and exits 0.
 * Nothing else allocates: launched, the figures are the whole process'.
 */
#include "seed_pat.h"

#define NSMALL 1000
#define ELEMS 10
#define LARGE_ELEMS 1000000

static int *small[NSMALL];

int main(void)
{
	static struct gt g;
	static struct sp s;
	unsigned i, j;
	int *large;

	for (i = 0; i < NSMALL; i++) {
		small[i] = gt_malloc(&g, ELEMS * sizeof(int));
		if (!small[i])
			gt_die("malloc failed");
		sp_alloc(&s, small[i], ELEMS * sizeof(int));
		for (j = 0; j < ELEMS; j++)
			((volatile int *)small[i])[j] = (int)i;
	}
	sp_sleep_ms(150);
	for (i = 0; i < NSMALL; i++) {
		gt_free(&g, small[i], ELEMS * sizeof(int));
		sp_free(&s, small[i]);
	}
	large = gt_calloc(&g, LARGE_ELEMS, sizeof(int));
	if (!large)
		gt_die("calloc failed");
	sp_alloc(&s, large, (uint64_t)LARGE_ELEMS * sizeof(int));
	sp_sleep_ms(30);
	gt_free(&g, large, (size_t)LARGE_ELEMS * sizeof(int));
	sp_free(&s, large);
	gt_print(&g, 1);
	sp_print(&s, "patterns");
	return 0;
}
