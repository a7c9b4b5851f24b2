/* rings.c: the per-CPU BPF ring buffers, read and merged into timestamp order */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "clock.h"
#include "rings.h"

#define RING_MIN (256 << 10)
#define RING_MAX (1UL << 31) /* a map's size is 32 bits */

/* A ring seen empty at time T holds no record reserved before T; a record's timestamp
 * is taken after its reservation, and this margin covers the producer position's store
 * reaching this CPU (microseconds at most; the in-process rings wait as long) */
#define QUIET_MARGIN_NS (100 * 1000ULL)

/* One CPU's ring buffer, as the consumer sees it */
struct ms_ring {
	struct ms_rings *rings;
	int index;
	int fd;
	void *pos; /* its first two pages, read-only: consumer and producer positions */
	size_t pos_len;
	uint64_t mark_ts;	/* a time at which the producer was at mark_pos (0: none): */
	unsigned long mark_pos; /* once the consumer passes it, all reserved before is read */
};

int ms_rings_create(struct ms_rings *r, uint64_t total, struct bpf_map *outer, int extra)
{
	size_t size = total;
	int i, err;

	r->pos_page = sysconf(_SC_PAGESIZE);
	r->n = libbpf_num_possible_cpus();
	if (r->n <= 0) {
		err = r->n ? r->n : -EINVAL;
		r->n = 0;
		return err;
	}
	/* the total over the CPUs' rings: a power of two each, 256 KiB at least */
	while (size > RING_MIN && size / 2 * r->n >= total)
		size /= 2;
	if (size < RING_MIN)
		size = RING_MIN;
	if (size > RING_MAX)
		size = RING_MAX;
	r->size = size;
	r->ring = calloc(r->n, sizeof(*r->ring));
	if (!r->ring)
		return -ENOMEM;
	for (i = 0; i < r->n; i++)
		r->ring[i] = (struct ms_ring){ .rings = r, .index = i, .fd = -1 };
	r->extra = extra;
	err = ms_merge_init(&r->merge, r->n + extra);
	if (err)
		return err;
	for (i = 0; i < r->n; i++) {
		r->ring[i].fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "ms_ring", 0, 0, size, NULL);
		if (r->ring[i].fd < 0)
			return -errno;
	}
	bpf_map__set_max_entries(outer, r->n);
	return bpf_map__set_inner_map_fd(outer, r->ring[0].fd);
}

/* A record read from a CPU's ring: it waits in the merge for the other rings' earlier
 * ones; what it asks the daemon to do is handed over at once */
static int on_record(void *ctx, void *data, size_t len)
{
	struct ms_ring *ring = ctx;
	struct ms_rings *r = ring->rings;
	const struct ms_event *e = data;

	if (len < sizeof(*e))
		return 0;
	r->fns->seen(r->ctx, e);
	if (ms_merge_push(&r->merge, ring->index, e))
		r->fns->apply(r->ctx, e); /* no memory to wait in: out of order rather than lost */
	return 0;
}

int ms_rings_open(struct ms_rings *r, int outer_fd, const struct ms_rings_fns *fns, void *ctx)
{
	int i;

	r->fns = fns;
	r->ctx = ctx;
	for (i = 0; i < r->n; i++) {
		struct ms_ring *ring = &r->ring[i];

		if (bpf_map_update_elem(outer_fd, &i, &ring->fd, BPF_ANY))
			return -errno;
		/* where the consumer and the producer are: whether the ring is empty */
		ring->pos_len = 2 * r->pos_page;
		ring->pos = mmap(NULL, ring->pos_len, PROT_READ, MAP_SHARED, ring->fd, 0);
		if (ring->pos == MAP_FAILED) {
			ring->pos = NULL;
			return -errno;
		}
		if (!r->rb)
			r->rb = ring_buffer__new(ring->fd, on_record, ring, NULL);
		else if (ring_buffer__add(r->rb, ring->fd, on_record, ring))
			return -errno;
		if (!r->rb)
			return -errno;
	}
	return 0;
}

/*
 * After the rings were read: a ring whose consumer has passed where its producer was at
 * time T (or that is empty now) holds no record reserved before T and can only bring
 * newer ones, so the merged records no ring can precede go to apply, in timestamp order.
 * A ring that is never empty (a steady stream) still moves on: a check notes where its
 * producer is, and a later one sees the consumer pass it.
 */
void ms_rings_apply_ready(struct ms_rings *r)
{
	uint64_t now = ms_now_ns(), force = now - MS_RINGS_MAX_WAIT_NS;
	int i;

	for (i = 0; i < r->n; i++) {
		struct ms_ring *ring = &r->ring[i];
		const unsigned long *cons_p = ring->pos;
		const unsigned long *prod_p =
			(const unsigned long *)((const char *)ring->pos + r->pos_page);
		uint64_t at = ms_now_ns() - QUIET_MARGIN_NS; /* before the producer is read */
		unsigned long prod = __atomic_load_n(prod_p, __ATOMIC_ACQUIRE);
		unsigned long cons = __atomic_load_n(cons_p, __ATOMIC_ACQUIRE);

		if (ring->mark_ts && cons >= ring->mark_pos) {
			ms_merge_quiet(&r->merge, i, ring->mark_ts);
			ring->mark_ts = 0;
		}
		if (prod == cons) {
			ms_merge_quiet(&r->merge, i, at);
		} else if (!ring->mark_ts) {
			ring->mark_ts = at;
			ring->mark_pos = prod;
		}
	}
	if (r->merge.queued > MS_RINGS_MAX_QUEUED)
		force = now;
	ms_merge_drain_ready(&r->merge, force, r->fns->apply, r->ctx);
}

void ms_rings_push_run(struct ms_rings *r, int q, const struct ms_event *v, size_t n)
{
	size_t i;

	if (q < 0 || q >= r->extra)
		return;
	for (i = 0; i < n; i++)
		if (v[i].type > MS_EV_REALLOC)
			r->fns->seen(r->ctx, &v[i]);
	/* no memory to wait in: as on_record, out of order rather than lost */
	if (ms_merge_push_run(&r->merge, r->n + q, v, n))
		for (i = 0; i < n; i++)
			r->fns->apply(r->ctx, &v[i]);
}

void ms_rings_quiet(struct ms_rings *r, int q, uint64_t ts)
{
	if (q >= 0 && q < r->extra)
		ms_merge_quiet(&r->merge, r->n + q, ts);
}

int ms_rings_read(struct ms_rings *r, int timeout_ms)
{
	/* records come without a wakeup each: past a fill threshold the poll returns
	 * early, otherwise the timeout bounds how late a record is seen */
	int err = ring_buffer__poll(r->rb, timeout_ms);

	return err >= 0 ? ring_buffer__consume(r->rb) : err;
}

void ms_rings_drain(struct ms_rings *r)
{
	if (r->rb)
		ring_buffer__consume(r->rb);
	if (r->fns)
		ms_merge_drain(&r->merge, UINT64_MAX, r->fns->apply, r->ctx);
}

void ms_rings_free(struct ms_rings *r)
{
	int i;

	ring_buffer__free(r->rb);
	for (i = 0; r->ring && i < r->n; i++) {
		if (r->ring[i].pos)
			munmap(r->ring[i].pos, r->ring[i].pos_len);
		if (r->ring[i].fd >= 0)
			close(r->ring[i].fd);
	}
	free(r->ring);
	ms_merge_free(&r->merge);
	r->rb = NULL;
	r->ring = NULL;
}
