/* numa.c: CPU to node from sysfs; where pages are, from move_pages(2) */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "numa.h"
#include "vec.h"

#define MAX_CPUS 65536

int ms_cpulist_parse(const char *s, void (*fn)(unsigned cpu, void *ctx), void *ctx)
{
	const char *p;
	int pass;

	/* validate first, then call: a malformed list calls nothing */
	for (pass = 0; pass < 2; pass++) {
		for (p = s; *p && *p != '\n';) {
			unsigned long a, b;
			char *end;

			if (!isdigit((unsigned char)*p))
				return -EINVAL;
			a = strtoul(p, &end, 10);
			b = a;
			if (*end == '-') {
				if (!isdigit((unsigned char)end[1]))
					return -EINVAL;
				b = strtoul(end + 1, &end, 10);
			}
			if (b < a || b >= MAX_CPUS)
				return -EINVAL;
			if (*end == ',')
				end++;
			else if (*end && *end != '\n')
				return -EINVAL;
			if (pass)
				for (; a <= b; a++)
					fn(a, ctx);
			p = end;
		}
	}
	return 0;
}

static int read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	int err = 0;

	if (!f)
		return -errno;
	if (!fgets(buf, len, f))
		err = -EIO;
	fclose(f);
	if (!err)
		buf[strcspn(buf, "\n")] = '\0';
	return err;
}

struct assign {
	struct ms_numa *n;
	int node;
	int err;
};

static void assign_cpu(unsigned cpu, void *arg)
{
	struct assign *a = arg;
	struct ms_numa *n = a->n;

	if (cpu >= n->ncpus) {
		size_t i = n->ncpus;

		if (MS_VEC_RESERVE(n->cpu_node, n->ncpus, cpu + 1)) {
			a->err = -ENOMEM;
			return;
		}
		for (; i < n->ncpus; i++)
			n->cpu_node[i] = -1;
	}
	n->cpu_node[cpu] = a->node;
}

int ms_numa_read(struct ms_numa *n, const char *root)
{
	char path[512], list[4096];
	struct assign a = { .n = n };
	struct dirent *de;
	DIR *d;
	int err;

	ms_numa_free(n);
	snprintf(n->root, sizeof(n->root), "%s", root);
	snprintf(path, sizeof(path), "%s/devices/system/cpu/online", root);
	if (read_line(path, n->online, sizeof(n->online)))
		n->online[0] = '\0';
	snprintf(path, sizeof(path), "%s/devices/system/node", root);
	d = opendir(path);
	if (!d) {
		/* no NUMA: every online CPU on node 0 */
		a.node = 0;
		err = ms_cpulist_parse(n->online[0] ? n->online : "0", assign_cpu, &a);
		n->nnodes = n->present = 1;
		return err ? err : a.err;
	}
	while ((de = readdir(d))) {
		char *end;
		long id;

		if (strncmp(de->d_name, "node", 4) || !isdigit((unsigned char)de->d_name[4]))
			continue;
		id = strtol(de->d_name + 4, &end, 10);
		if (*end || id < 0 || id >= MS_MAX_NODES)
			continue;
		snprintf(path, sizeof(path), "%s/devices/system/node/%s/cpulist", root, de->d_name);
		if (read_line(path, list, sizeof(list)))
			continue;
		n->present++;
		if ((unsigned)id + 1 > n->nnodes)
			n->nnodes = id + 1;
		a.node = id;
		if (list[0] && ms_cpulist_parse(list, assign_cpu, &a))
			continue; /* a malformed list: its CPUs stay unknown */
	}
	closedir(d);
	if (!n->present) {
		n->nnodes = n->present = 1;
		a.node = 0;
		ms_cpulist_parse(n->online[0] ? n->online : "0", assign_cpu, &a);
	}
	return a.err;
}

bool ms_numa_refresh(struct ms_numa *n)
{
	char path[256], online[256];
	char root[sizeof(n->root)];

	snprintf(path, sizeof(path), "%s/devices/system/cpu/online", n->root);
	if (read_line(path, online, sizeof(online)) || !strcmp(online, n->online))
		return false;
	memcpy(root, n->root, sizeof(root));
	ms_numa_read(n, root);
	return true;
}

int ms_numa_node_of(const struct ms_numa *n, unsigned cpu)
{
	return cpu < n->ncpus ? n->cpu_node[cpu] : -1;
}

void ms_numa_free(struct ms_numa *n)
{
	free(n->cpu_node);
	memset(n, 0, sizeof(*n));
}

int ms_numa_page_nodes(pid_t pid, const uint64_t *addrs, size_t n, int *nodes)
{
	long page = sysconf(_SC_PAGESIZE);
	void **pages = malloc(n * sizeof(*pages));
	size_t i;
	long r;

	if (!pages)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		pages[i] = (void *)(uintptr_t)(addrs[i] & ~(uint64_t)(page - 1));
	r = syscall(SYS_move_pages, pid, n, pages, NULL, nodes, 0);
	free(pages);
	return r < 0 ? -errno : 0;
}
