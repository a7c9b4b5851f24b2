/* test_cgroup.c: /proc/PID/cgroup parsing, container ids, the per-pid cache */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "cgroup.h"
#include "unit.h"

#define CID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* Which line of /proc/PID/cgroup names the cgroup */
START_TEST(parse)
{
	static const struct {
		const char *text, *path; /* NULL: the root cgroup, or none */
	} t[] = {
		{ "0::/\n", NULL },
		{ "0::/system.slice/docker-" CID ".scope\n", "/system.slice/docker-" CID ".scope" },
		{ "0::/kubepods.slice/kubepods-burstable.slice/cri-containerd-" CID ".scope\n",
		  "/kubepods.slice/kubepods-burstable.slice/cri-containerd-" CID ".scope" },
		{ "0::/user.slice/user-1000.slice/session-2.scope",
		  "/user.slice/user-1000.slice/session-2.scope" }, /* no newline at the end */
		/* cgroup v1 (hybrid): the unified root says nothing, name=systemd does */
		{ "12:memory:/docker/" CID "\n1:name=systemd:/docker/" CID "\n0::/\n",
		  "/docker/" CID },
		{ "12:memory:/mem\n1:name=systemd:/sd\n", "/sd" },
		{ "1:name=systemd:/sd\n0::/unified\n", "/unified" },
		{ "1:name=systemd:/\n12:memory:/mem\n", "/mem" },
		{ "4:cpu,cpuacct:/cpu\n9:blkio,memory,pids:/mem\n", "/mem" },
		{ "9:memoryx:/m\n2:cpu:/c\n", NULL },
		{ "0::/a:b\n", "/a:b" },
		{ "0::/a\"b\\c\n", "/a\"b\\c" }, /* as it is: escaping is the writer's */
		{ "0::/first\n0::/second\n", "/first" },
		{ "", NULL },
		{ "\n\n", NULL },
		{ "garbage\n0:/\n0::\n", NULL },
		{ "1::/x\n", NULL }, /* not the unified hierarchy (id 0) */
	};
	unsigned i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *path = ms_cgroup_parse(t[i].text);

		if (t[i].path)
			ck_assert_msg(path && !strcmp(path, t[i].path), "'%s': '%s'", t[i].text,
				      path ? path : "(null)");
		else
			ck_assert_msg(!path, "'%s': '%s'", t[i].text, path);
		free(path);
	}
}
END_TEST

/* The last run of exactly 64 lowercase hex digits */
START_TEST(container_ids)
{
	static const struct {
		const char *path, *id;
	} t[] = {
		{ "/system.slice/docker-" CID ".scope", CID },
		{ "/docker/" CID, CID },
		{ "/kubepods/pod1/" CID "/x", CID },
		{ "/a-" CID "0", "" }, /* 65 digits */
		{ "/a-" CID "/b-" CID "x", CID },
		{ "/" CID
		  "/libpod-fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210",
		  "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210" },
		{ "/docker/0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef", "" },
		{ "/user.slice/session-2.scope", "" },
		{ "", "" },
	};
	char id[MS_CONTAINER_ID_LEN + 1], short_id[] = "/x-" CID;
	unsigned i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		memset(id, 'z', sizeof(id));
		ms_container_id(t[i].path, id);
		ck_assert_msg(!strcmp(id, t[i].id), "'%s': '%s'", t[i].path, id);
	}
	short_id[strlen(short_id) - 1] = '\0'; /* 63 digits */
	ms_container_id(short_id, id);
	ck_assert_str_eq(id, "");
}
END_TEST

/* ---- the cache, on a directory standing in for /proc */

static char root[64];

static void setup(void)
{
	snprintf(root, sizeof(root), "/tmp/ms-cgroup-test-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(root));
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	ck_assert_int_eq(system(cmd), 0);
}

/* root/PID/cgroup holds text (made or replaced) */
static void cgroup_file(pid_t pid, const char *text)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%d", root, (int)pid);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%d/cgroup", root, (int)pid);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

static const char *path_of(const struct ms_cgroup *g)
{
	ck_assert_ptr_nonnull(g);
	return g->path ? g->path : "(root)";
}

/* Each pid read once while it lives: what a pass adds is found after it */
START_TEST(read_once)
{
	struct ms_cgroups c;
	const struct ms_cgroup *g;

	cgroup_file(20, "0::/docker/" CID "\n");
	cgroup_file(10, "0::/\n");
	ms_cgroups_init(&c, root);
	g = ms_cgroups_get(&c, 20);
	ck_assert_str_eq(path_of(g), "/docker/" CID);
	ck_assert_str_eq(g->container, CID);
	ck_assert_int_eq(g->pid, 20);
	ck_assert_str_eq(path_of(ms_cgroups_get(&c, 10)), "(root)");
	ck_assert_str_eq(path_of(ms_cgroups_get(&c, 30)), "(root)"); /* no file: unknown */
	ck_assert_ptr_null(ms_cgroups_find(&c, 20));		     /* not before the end */
	ms_cgroups_end(&c, true);
	ck_assert_uint_eq(c.n, 3);
	ck_assert_str_eq(path_of(ms_cgroups_find(&c, 20)), "/docker/" CID);
	/* a changed file is not read again */
	cgroup_file(20, "0::/elsewhere\n");
	cgroup_file(30, "0::/late\n");
	ck_assert_str_eq(path_of(ms_cgroups_get(&c, 20)), "/docker/" CID);
	ck_assert_str_eq(path_of(ms_cgroups_get(&c, 30)), "(root)");
	ms_cgroups_end(&c, true);
	/* ... but ms_cgroups_read reads, and caches nothing */
	{
		struct ms_cgroup fresh;

		ms_cgroups_read(&c, 20, &fresh);
		ck_assert_str_eq(path_of(&fresh), "/elsewhere");
		ck_assert_str_eq(fresh.container, "");
		free(fresh.path);
	}
	ck_assert_str_eq(path_of(ms_cgroups_find(&c, 20)), "/docker/" CID);
	ms_cgroups_free(&c);
	ck_assert_uint_eq(c.n, 0);
	ck_assert_str_eq(c.proc_root, root);
}
END_TEST

/* A complete pass forgets the pids it did not ask for, an incomplete one keeps them; a
 * dropped pid is read again */
START_TEST(forget)
{
	struct ms_cgroups c;
	pid_t pid;

	for (pid = 1; pid <= 5; pid++)
		cgroup_file(pid, "0::/one\n");
	ms_cgroups_init(&c, root);
	for (pid = 1; pid <= 5; pid++)
		ck_assert_str_eq(path_of(ms_cgroups_get(&c, pid)), "/one");
	ms_cgroups_end(&c, true);
	ck_assert_uint_eq(c.n, 5);
	ms_cgroups_get(&c, 2);
	ms_cgroups_end(&c, false);
	ck_assert_uint_eq(c.n, 5);
	ms_cgroups_get(&c, 2);
	ms_cgroups_get(&c, 4);
	ms_cgroups_end(&c, true);
	ck_assert_uint_eq(c.n, 2);
	ck_assert_ptr_null(ms_cgroups_find(&c, 1));
	ck_assert_ptr_nonnull(ms_cgroups_find(&c, 2));
	ck_assert_ptr_nonnull(ms_cgroups_find(&c, 4));
	/* the pid comes back as another process */
	cgroup_file(4, "0::/two\n");
	ms_cgroups_drop(&c, 4);
	ms_cgroups_drop(&c, 99);
	ck_assert_uint_eq(c.n, 1);
	ck_assert_ptr_null(ms_cgroups_find(&c, 4));
	ck_assert_str_eq(path_of(ms_cgroups_get(&c, 4)), "/two");
	ck_assert_str_eq(path_of(ms_cgroups_get(&c, 2)), "/one");
	ms_cgroups_end(&c, true);
	ck_assert_uint_eq(c.n, 2);
	ms_cgroups_free(&c);
}
END_TEST

START_TEST(default_root)
{
	struct ms_cgroups c;

	ms_cgroups_init(&c, NULL);
	ck_assert_str_eq(c.proc_root, "/proc");
	ms_cgroups_free(&c);
}
END_TEST

Suite *cgroup_suite(void)
{
	Suite *s = suite_create("cgroup");
	TCase *pure = tcase_create("parsers"), *cache = tcase_create("cache");

	tcase_add_test(pure, parse);
	tcase_add_test(pure, container_ids);
	suite_add_tcase(s, pure);
	tcase_add_checked_fixture(cache, setup, teardown);
	tcase_add_test(cache, read_once);
	tcase_add_test(cache, forget);
	tcase_add_test(cache, default_root);
	suite_add_tcase(s, cache);
	return s;
}
