/* test_numa.c: NUMA topology from fake sysfs trees, per-node figures, remote frees */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "catalog.h"
#include "numa.h"
#include "stats.h"
#include "unit.h"

static char root[64];

static void put(const char *rel, const char *text)
{
	char path[256], dir[256], *slash;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	snprintf(dir, sizeof(dir), "%s", path);
	for (slash = dir + strlen(root) + 1; (slash = strchr(slash, '/')); slash++) {
		*slash = '\0';
		mkdir(dir, 0755);
		*slash = '/';
	}
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static void make_root(void)
{
	strcpy(root, "/tmp/ms-sysfs-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(root));
}

static void drop_root(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	ck_assert_int_eq(system(cmd), 0);
}

static void count_cpu(unsigned cpu, void *ctx)
{
	char *s = ctx;

	sprintf(s + strlen(s), "%u.", cpu);
}

START_TEST(cpulists)
{
	char seen[256] = "";

	ck_assert_int_eq(ms_cpulist_parse("0-3,8,10-11\n", count_cpu, seen), 0);
	ck_assert_str_eq(seen, "0.1.2.3.8.10.11.");
	seen[0] = '\0';
	ck_assert_int_eq(ms_cpulist_parse("", count_cpu, seen), 0);
	ck_assert_str_eq(seen, "");
	ck_assert_int_eq(ms_cpulist_parse("3-1", count_cpu, seen), -EINVAL);
	ck_assert_int_eq(ms_cpulist_parse("1,,2", count_cpu, seen), -EINVAL);
	ck_assert_int_eq(ms_cpulist_parse("a", count_cpu, seen), -EINVAL);
	ck_assert_int_eq(ms_cpulist_parse("0-", count_cpu, seen), -EINVAL);
	ck_assert_int_eq(ms_cpulist_parse("0-99999999", count_cpu, seen), -EINVAL);
	ck_assert_str_eq(seen, ""); /* a malformed list calls nothing */
}
END_TEST

START_TEST(nodes_with_holes_and_offline_cpus)
{
	struct ms_numa n = { 0 };

	make_root();
	/* nodes 0, 1 and 3 (no node 2); CPUs 0-3 and 8-11, CPU 9 offline */
	put("devices/system/cpu/online", "0-3,8,10-11\n");
	put("devices/system/node/node0/cpulist", "0-1,8\n");
	put("devices/system/node/node1/cpulist", "2-3,10\n");
	put("devices/system/node/node3/cpulist", "11\n");
	put("devices/system/node/possible", "0-3\n"); /* not a node directory */
	ck_assert_int_eq(ms_numa_read(&n, root), 0);
	ck_assert_uint_eq(n.present, 3);
	ck_assert_uint_eq(n.nnodes, 4);
	ck_assert_int_eq(ms_numa_node_of(&n, 0), 0);
	ck_assert_int_eq(ms_numa_node_of(&n, 3), 1);
	ck_assert_int_eq(ms_numa_node_of(&n, 8), 0);
	ck_assert_int_eq(ms_numa_node_of(&n, 9), -1); /* offline, in no node's list */
	ck_assert_int_eq(ms_numa_node_of(&n, 10), 1);
	ck_assert_int_eq(ms_numa_node_of(&n, 11), 3);
	ck_assert_int_eq(ms_numa_node_of(&n, 4), -1);
	ck_assert_int_eq(ms_numa_node_of(&n, 5000), -1);
	/* nothing changed: no re-read */
	ck_assert(!ms_numa_refresh(&n));
	/* CPU 9 comes online on node 3 */
	put("devices/system/node/node3/cpulist", "9,11\n");
	put("devices/system/cpu/online", "0-3,8-11\n");
	ck_assert(ms_numa_refresh(&n));
	ck_assert_int_eq(ms_numa_node_of(&n, 9), 3);
	ms_numa_free(&n);
	drop_root();
}
END_TEST

START_TEST(no_numa_directory)
{
	struct ms_numa n = { 0 };

	make_root();
	put("devices/system/cpu/online", "0-5\n");
	ck_assert_int_eq(ms_numa_read(&n, root), 0);
	ck_assert_uint_eq(n.present, 1);
	ck_assert_int_eq(ms_numa_node_of(&n, 5), 0);
	ms_numa_free(&n);
	drop_root();
}
END_TEST

/* Blocks allocated on node 1 and freed on node 0 are remote frees */
START_TEST(per_node_figures)
{
	struct ms_catalog *cat;
	struct ms_func fm = { .name = "malloc", .allocator = 1, .kind = MS_FN_ALLOC };
	struct ms_func ff = { .name = "free", .allocator = 1, .kind = MS_FN_FREE };
	struct ms_stats s;
	struct ms_event e;
	struct ms_proc *p;
	int fmid, ffid, i;

	cat = ms_catalog_new();
	ck_assert_ptr_nonnull(cat);
	fmid = ms_catalog_add_func(cat, &fm);
	ffid = ms_catalog_add_func(cat, &ff);
	ms_stats_init(&s, cat, NULL, NULL);
	for (i = 0; i < 10; i++) {
		memset(&e, 0, sizeof(e));
		e.type = MS_EV_ALLOC;
		e.func = fmid;
		e.tgid = e.tid = 7;
		e.node = i < 6 ? 1 : 0;
		e.a.ptr = 0x1000 + i * 0x100;
		e.a.size = 100;
		ms_stats_apply(&s, &e);
	}
	/* free 4 of node 1's on node 0, 1 of node 0's on node 0 */
	for (i = 0; i < 5; i++) {
		memset(&e, 0, sizeof(e));
		e.type = MS_EV_FREE;
		e.func = ffid;
		e.tgid = e.tid = 7;
		e.node = 0;
		e.a.ptr = 0x1000 + (i < 4 ? i : 6) * 0x100;
		ms_stats_apply(&s, &e);
	}
	p = ms_stats_proc(&s, 7, false);
	ck_assert_uint_eq(p->numa.nnodes >= 2, 1);
	ck_assert_uint_eq(p->numa.node[1].allocs, 6);
	ck_assert_uint_eq(p->numa.node[1].alloc_bytes, 600);
	ck_assert_uint_eq(p->numa.node[1].frees, 0);
	ck_assert_uint_eq(p->numa.node[1].live_allocs, 2);
	ck_assert_uint_eq(p->numa.node[1].live_bytes, 200);
	ck_assert_uint_eq(p->numa.node[1].peak_bytes, 600);
	ck_assert_uint_eq(p->numa.node[0].allocs, 4);
	ck_assert_uint_eq(p->numa.node[0].frees, 5);
	ck_assert_uint_eq(p->numa.node[0].freed_bytes, 500);
	ck_assert_uint_eq(p->numa.node[0].live_bytes, 300);
	ck_assert_uint_eq(p->numa.remote_frees, 4);
	ck_assert_uint_eq(p->numa.remote_free_bytes, 400);
	/* the allocator's own numa figures are the same (one allocator) */
	ck_assert_uint_eq(p->alloc[1].user.numa.remote_frees, 4);
	ck_assert_uint_eq(p->alloc[1].user.numa.node[1].live_bytes, 200);
	ms_stats_free(&s);
	ms_catalog_free(cat);
}
END_TEST

Suite *numa_suite(void)
{
	Suite *s = suite_create("numa");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, cpulists);
	tcase_add_test(tc, nodes_with_holes_and_offline_cpus);
	tcase_add_test(tc, no_numa_directory);
	tcase_add_test(tc, per_node_figures);
	suite_add_tcase(s, tc);
	return s;
}
