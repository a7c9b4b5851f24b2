/* numa.h: the machine's NUMA topology (CPU to node), from sysfs */
#ifndef MS_NUMA_H
#define MS_NUMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define MS_MAX_NODES 64

struct ms_numa {
	char root[128];	  /* "/sys", or a fake tree in tests */
	int *cpu_node;	  /* node of each CPU, -1 for a CPU no node lists (offline, absent) */
	size_t ncpus;	  /* entries in cpu_node */
	unsigned nnodes;  /* highest node id + 1 */
	unsigned present; /* nodes that exist */
	char online[256]; /* cpu/online as last read: a change means re-read */
};

/*
 * Parses a sysfs CPU list ("0-3,8,10-11"), calling fn for each CPU. Returns 0, or
 * -EINVAL for a malformed list (nothing is called then).
 */
int ms_cpulist_parse(const char *s, void (*fn)(unsigned cpu, void *ctx), void *ctx);

/* Reads the topology below root (ROOT/devices/system/node/node<N>/cpulist and
 * ROOT/devices/system/cpu/online). Without a node directory (no NUMA support), one
 * node holds every online CPU. Returns 0 or -errno. */
int ms_numa_read(struct ms_numa *n, const char *root);

/* Re-reads the topology when the set of online CPUs changed; returns whether it did */
bool ms_numa_refresh(struct ms_numa *n);

/* The node of cpu, or -1 when it is unknown */
int ms_numa_node_of(const struct ms_numa *n, unsigned cpu);

void ms_numa_free(struct ms_numa *n);

/*
 * Samples where the pages of blocks of process pid are: for each of n addresses, the
 * node of its page (move_pages(2) with no target nodes), or a negative errno (-ENOENT:
 * not present yet). Returns 0 or -errno.
 */
int ms_numa_page_nodes(pid_t pid, const uint64_t *addrs, size_t n, int *nodes);

#endif
