/* fuzz_cpulist.c: sysfs CPU lists ("0-3,8,10-11"), directly and through a fake sysfs
 * tree read by ms_numa_read (node0/cpulist and cpu/online are the input) */
#include <string.h>
#include <sys/stat.h>
#include "fuzz.h"
#include "numa.h"

struct seen {
	unsigned long calls;
	long last; /* CPUs of one range come in increasing order */
};

static void on_cpu(unsigned cpu, void *ctx)
{
	struct seen *s = ctx;

	FZ_CHECK(cpu < 65536, "cpu %u", cpu);
	s->calls++;
	s->last = cpu;
}

static void mkdirs(const char *root, const char *sub)
{
	char path[256], *p;

	mkdir(root, 0700);
	snprintf(path, sizeof(path), "%s/%s", root, sub);
	for (p = path + strlen(root) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		mkdir(path, 0700);
		*p = '/';
	}
	mkdir(path, 0700);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char root[128];
	char *s = fz_cstr(data, size), path[256];
	struct seen seen = { 0, -1 };
	struct ms_numa n;
	size_t first;
	unsigned cpu;
	int err;

	err = ms_cpulist_parse(s, on_cpu, &seen);
	FZ_CHECK(err == 0 || err == -EINVAL, "returned %d", err);
	FZ_CHECK(!err || !seen.calls, "a malformed list called back %lu times", seen.calls);

	if (!root[0]) {
		snprintf(root, sizeof(root), "%s/sys", fz_tmpdir());
		mkdirs(root, "devices/system/node/node0");
		mkdirs(root, "devices/system/cpu");
	}
	snprintf(path, sizeof(path), "%s/devices/system/node/node0/cpulist", root);
	fz_write(path, data, size);
	first = strcspn(s, "\n");
	snprintf(path, sizeof(path), "%s/devices/system/cpu/online", root);
	fz_write(path, data, first);
	memset(&n, 0, sizeof(n));
	err = ms_numa_read(&n, root);
	FZ_CHECK(err == 0 || err == -EINVAL || err == -ENOMEM, "numa_read %d", err);
	FZ_CHECK(n.ncpus <= 2 * 65536, "ncpus %zu", n.ncpus);
	for (cpu = 0; cpu < n.ncpus && cpu < 70000; cpu += 97) {
		int node = ms_numa_node_of(&n, cpu);

		FZ_CHECK(node >= -1 && node < MS_MAX_NODES, "node %d", node);
	}
	FZ_CHECK(ms_numa_node_of(&n, 1u << 31) == -1, "a CPU past the table");
	ms_numa_refresh(&n);
	ms_numa_free(&n);
	free(s);
	return 0;
}
