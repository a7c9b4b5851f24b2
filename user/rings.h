/* rings.h: the per-CPU BPF ring buffers, read and merged into timestamp order */
#ifndef MS_RINGS_H
#define MS_RINGS_H

#include <stddef.h>
#include <stdint.h>
#include "memscope.h"
#include "merge.h"

struct bpf_map;
struct ring_buffer;
struct ms_ring;

/*
 * What the rings hand over: seen, each record as it is read from its CPU's ring (what it
 * asks of the daemon at once, before the order is known: attach to new objects, serve a
 * stopped process); apply, each record in timestamp order once no ring can bring an
 * earlier one (or past the bounds below, counted in late).
 */
struct ms_rings_fns {
	void (*seen)(void *ctx, const struct ms_event *e);
	void (*apply)(void *ctx, const struct ms_event *e);
};

struct ms_rings {
	struct ring_buffer *rb;
	struct ms_ring *ring; /* one per possible CPU */
	int n;
	int extra;	 /* queues of other sources, after the CPUs' (the in-process rings) */
	size_t size;	 /* bytes of each ring */
	size_t pos_page; /* the page size: a ring's producer position is on its second */
	struct ms_merge merge;
	const struct ms_rings_fns *fns;
	void *ctx;
};

/*
 * A record waits in the merge until every ring has been seen empty since its time (see
 * merge.h), at most MS_RINGS_MAX_WAIT_NS: a ring held back longer than that (a thread
 * preempted for a second inside a BPF program) no longer holds the others, and what it
 * brings later than a newer record already applied is counted (merge.late). So is what
 * comes past MS_RINGS_MAX_QUEUED records waiting (64 MiB).
 */
#define MS_RINGS_MAX_WAIT_NS (1000 * 1000 * 1000ULL)
#define MS_RINGS_MAX_QUEUED (1u << 20)

/*
 * One ring buffer per possible CPU, total bytes over them all (a power of two each, from
 * 256 KiB to 2 GiB), created before the BPF object is loaded: the first is the template
 * of outer's inner maps (libbpf 1.1 cannot resize the template it declares), outer sized
 * to the CPUs; and extra queues in the merge for another source's rings (ms_rings_push_run).
 * Returns 0 or -errno; ms_rings_free in any case.
 */
int ms_rings_create(struct ms_rings *r, uint64_t total, struct bpf_map *outer, int extra);

/* After the load: puts each ring in outer_fd at its CPU and reads them all, handing the
 * records to fns with ctx. Returns 0 or -errno. */
int ms_rings_open(struct ms_rings *r, int outer_fd, const struct ms_rings_fns *fns, void *ctx);

/* The n records at v of another source's ring q (0 to extra - 1), read now in that
 * order: seen, then merged with the CPUs' as theirs are. Its source must say when each of
 * its rings is seen empty (ms_rings_quiet), or the merge waits for it (up to
 * MS_RINGS_MAX_WAIT_NS). */
void ms_rings_push_run(struct ms_rings *r, int q, const struct ms_event *v, size_t n);
void ms_rings_quiet(struct ms_rings *r, int q, uint64_t ts);

/* Waits up to timeout_ms for records and reads what is there (each to fns->seen, then
 * into the merge). Returns the records read, or -errno (-EINTR: a signal). */
int ms_rings_read(struct ms_rings *r, int timeout_ms);

/* Applies the merged records that no ring can precede any more, in timestamp order */
void ms_rings_apply_ready(struct ms_rings *r);

/* At the end: reads what is left and applies everything in the merge */
void ms_rings_drain(struct ms_rings *r);

/* Accepts a zeroed r */
void ms_rings_free(struct ms_rings *r);

#endif
