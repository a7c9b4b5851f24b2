/* keyidx.h: numbers records by a two-word key (a call site and a size, or a stack) */
#ifndef MS_KEYIDX_H
#define MS_KEYIDX_H

#include <stdbool.h>
#include <stdint.h>

struct ms_keyslot;

/*
 * Open addressing over (a, b), at most half full: the index doubles as keys come (24
 * bytes a slot). Numbers are given in order, 0 to n - 1, so they index the owner's own
 * array of records.
 */
struct ms_keyidx {
	struct ms_keyslot *slot;
	uint32_t cap, n;
};

/*
 * The number of (a, b). A key not seen before gets the next number, n, when add is true;
 * -1 when it is new and add is false, or when memory runs out. The index grows only
 * when add is true.
 */
long ms_keyidx_get(struct ms_keyidx *x, uint64_t a, uint64_t b, bool add);

void ms_keyidx_free(struct ms_keyidx *x);

#endif
