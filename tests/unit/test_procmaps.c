/* test_procmaps.c: /proc/PID/maps lines, ordinary and odd */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "procmaps.h"
#include "unit.h"

START_TEST(ordinary_line)
{
	char line[] = "7f1c2a428000-7f1c2a5bd000 r-xp 00028000 fe:01 1835135                    "
		      "/usr/lib/x86_64-linux-gnu/libc.so.6\n";
	struct ms_mapping m;

	ck_assert_int_eq(ms_maps_parse_line(line, &m), 0);
	ck_assert_uint_eq(m.start, 0x7f1c2a428000ULL);
	ck_assert_uint_eq(m.end, 0x7f1c2a5bd000ULL);
	ck_assert_uint_eq(m.offset, 0x28000);
	ck_assert_uint_eq(m.dev_major, 0xfe);
	ck_assert_uint_eq(m.dev_minor, 1);
	ck_assert_uint_eq(m.inode, 1835135);
	ck_assert(m.exec);
	ck_assert(!m.deleted);
	ck_assert_str_eq(m.path, "/usr/lib/x86_64-linux-gnu/libc.so.6");
}
END_TEST

START_TEST(odd_paths)
{
	char spaces[] = "1000-2000 r-xp 00000000 08:02 42 /opt/my app/lib c.so.6 (deleted)";
	char anon[] = "1000-2000 rw-p 00000000 00:00 0 ";
	char stack[] = "7ffd-7ffe rw-p 00000000 00:00 0                          [stack]";
	char nopath[] = "1000-2000 r--p 00000000 00:00 0";
	struct ms_mapping m;

	ck_assert_int_eq(ms_maps_parse_line(spaces, &m), 0);
	ck_assert(m.deleted);
	ck_assert_str_eq(m.path, "/opt/my app/lib c.so.6");
	ck_assert_int_eq(ms_maps_parse_line(anon, &m), 0);
	ck_assert_str_eq(m.path, "");
	ck_assert(!m.exec);
	ck_assert_int_eq(ms_maps_parse_line(stack, &m), 0);
	ck_assert_str_eq(m.path, "[stack]");
	ck_assert_int_eq(ms_maps_parse_line(nopath, &m), 0);
	ck_assert_str_eq(m.path, "");
}
END_TEST

START_TEST(bad_lines)
{
	const char *bad[] = {
		"",
		"garbage",
		"1000 r-xp 0 0:0 0 /x",
		"1000-2000 r-xp",
		"1000-2000 r-xp 00000000",
		"1000-2000 r-xp 00000000 08:02",
		"1000-2000 r-xp 00000000 0802 1 /x",
		"1000-2000 r-xp 00000000 08:02 x /x",
		"1000-2000 rx 00000000 08:02 1 /x",
		"zz-2000 r-xp 00000000 08:02 1 /x",
		"ffffffffffffffffffff-2000 r-xp 00000000 08:02 1 /x",
	};
	struct ms_mapping m;
	char buf[128];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(buf, sizeof(buf), "%s", bad[i]);
		ck_assert_msg(ms_maps_parse_line(buf, &m) == -22, "accepted '%s'", bad[i]);
	}
}
END_TEST

static int count_self(const struct ms_mapping *m, void *ctx)
{
	int *n = ctx;

	ck_assert(m->exec);
	ck_assert(m->path[0] == '/');
	(*n)++;
	return 0;
}

START_TEST(own_maps)
{
	int n = 0;

	ck_assert_int_eq(ms_maps_for_each_exec("/proc", getpid(), count_self, &n), 0);
	ck_assert_int_ge(n, 2); /* this program and its libc at least */
	ck_assert_int_lt(ms_maps_for_each_exec("/proc", 0x7ffffff0, count_self, &n), 0);
}
END_TEST

Suite *procmaps_suite(void)
{
	Suite *s = suite_create("procmaps");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, ordinary_line);
	tcase_add_test(tc, odd_paths);
	tcase_add_test(tc, bad_lines);
	tcase_add_test(tc, own_maps);
	suite_add_tcase(s, tc);
	return s;
}
