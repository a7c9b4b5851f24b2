/* prom.h: the Prometheus endpoint (--prometheus): the exposition text, served by httpd.h */
#ifndef MS_PROM_H
#define MS_PROM_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include "httpd.h"
#include "output.h"
#include "stats.h"

#define MS_PROM_DEFAULT_MAX_PROCESSES 100
#define MS_PROM_DEFAULT_GRACE 60 /* seconds */
#define MS_PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct ms_prom_opts {
	unsigned max_processes; /* --prometheus-max-processes: processes with series of their
				   own: running ones first, the most live bytes first; the rest
				   are summed per comm under pid="other" (0: every process
				   is summed so) */
	double grace_s;		/* --prometheus-grace: seconds an exited process' final series
				   stay exported (0: dropped at the next update) */
	int verbose;		/* -v: libmicrohttpd's messages (malformed requests) on stderr */
	const char *proc_root;	/* where /proc/PID/cgroup is read; "/proc" when NULL */
	/* the server's bounds (tests shorten them) */
	struct ms_httpd_limits http;
	/* more paths the server answers (the /debug/pprof endpoints, pprofs.c) */
	struct ms_prom_handler {
		const char *path, *hint;
		ms_httpd_handler_fn fn;
		void *ctx;
	} extra[2];
	unsigned nextra;
};

/*
 * The exposition, one family after the other, every family with HELP and TYPE:
 *
 *   per process and allocator (labels pid, comm, allocator, and cgroup="/path" when the
 *   process is not in the root cgroup, container="<64 hex>" when that path names one):
 *     memscope_allocations_total, memscope_frees_total, memscope_unmatched_frees_total,
 *     memscope_failed_allocations_total, memscope_allocated_bytes_total,
 *     memscope_freed_bytes_total (counters); memscope_live_allocations,
 *     memscope_live_bytes, memscope_peak_bytes (gauges): the calls of the allocator's users;
 *     memscope_allocation_size_bytes (histogram): their successful calls per size class,
 *     bucket le="2^k-1" for the class [2^(k-1), 2^k) (le="0": size 0), _sum the requested
 *     bytes, _count the calls (= memscope_allocations_total); every series has the same
 *     bounds, from le="0" to the largest class any series has had (at most 41; they never
 *     shrink): the bounds + 3 series (+Inf, _sum, _count) per process and allocator;
 *     memscope_backing_allocations_total, memscope_backing_live_bytes: what the allocator
 *     took from others inside its own calls (its pool figures), where it took any
 *   per process (pid, comm, cgroup, container):
 *     memscope_process_peak_bytes: the highest live bytes of all allocators together
 *   the tracer:
 *     memscope_events_total, memscope_lost_events_total{cause} (the causes of the JSON
 *     "lost" object), memscope_processes (traced now), memscope_exported_processes (with
 *     series of their own)
 *
 * Processes beyond max_processes (running ones rank before exited ones, then by live
 * bytes) are summed per comm into series with pid="other" (their peaks are a sum of
 * peaks; the sums go down when a process leaves the group: read them as gauges).
 *
 * A family with a node label (per NUMA node) is one more row in prom.c's family table
 * with a per-node source; the label writer (entry_labels, put_sample) takes any labels.
 */

/* Parses an --prometheus value (ms_httpd_parse_addr): 0, or -EINVAL with a lowercase
 * message in err */
static inline int ms_prom_parse_addr(const char *text, struct sockaddr_storage *sa, socklen_t *len,
				     char *err, size_t errlen)
{
	return ms_httpd_parse_addr(text, "--prometheus", sa, len, err, errlen);
}

/*
 * Starts serving /metrics on addr_port (see ms_prom_parse_addr; NULL: no listener, the
 * text only, for tests) with an HTTP server (ms_httpd_start) bounded by o->http; o NULL
 * for the defaults. Returns NULL with errno set: EINVAL for a bad value, else the bind's
 * or listen's (EADDRINUSE, EADDRNOTAVAIL, EACCES), or the server's start's.
 */
struct ms_prom *ms_prom_new(const char *addr_port, const struct ms_prom_opts *o);

/* "http://127.0.0.1:9464/metrics", with the port actually bound; "" without a listener */
const char *ms_prom_url(const struct ms_prom *p);

/*
 * Renders the exposition of s and r in the calling (daemon) thread and makes it the one
 * served; drops the exited processes whose grace period has passed, measured on r->ts.
 * Call after each report (comms filled in). Reads /proc/PID/cgroup once per new process.
 * Cost: O(n log n) in the processes plus O(MS_CLASSES) per process and allocator
 * (the size histograms), the text in memory. Returns 0 or -ENOMEM (the previous text stays
 * served).
 */
int ms_prom_update(struct ms_prom *p, struct ms_stats *s, const struct ms_report *r);

/*
 * Keeps proc's final figures (a copy) for the grace period, counted from the next
 * update. Call from the statistics' on_end (an exit, or an exec: the old image's figures
 * stay under its comm). A live process with the same pid and comm replaces them.
 */
void ms_prom_process_exited(struct ms_prom *p, const struct ms_proc *proc);

/* A copy of the text served now (free() it), its length in *len; NULL on ENOMEM */
char *ms_prom_text(struct ms_prom *p, size_t *len);

/* Stops the server (waits for its thread) and frees everything; accepts NULL */
void ms_prom_free(struct ms_prom *p);

#endif
