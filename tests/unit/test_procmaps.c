/* test_procmaps.c: /proc/PID/maps lines, ordinary and odd; a mapping's file pinned */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
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

struct seen {
	const struct ms_mapping *v;
	size_t n;
};

static int same_as_read(const struct ms_mapping *m, void *ctx)
{
	struct seen *s = ctx;
	const struct ms_mapping *k = &s->v[s->n++];

	ck_assert_uint_eq(m->start, k->start);
	ck_assert_uint_eq(m->end, k->end);
	ck_assert_uint_eq(m->inode, k->inode);
	ck_assert_str_eq(m->path, k->path);
	ck_assert_ptr_ne(m->path, k->path); /* the maps own their copies */
	return 0;
}

/* The mappings read once are those the walk gives, in order; a gone pid is -ESRCH */
START_TEST(read_once)
{
	struct ms_maps maps = { 0 };
	struct seen s;
	int n = 0;

	ck_assert_int_eq(ms_maps_read("/proc", getpid(), &maps), 0);
	ck_assert_int_eq(maps.pid, getpid());
	s = (struct seen){ maps.v, 0 };
	ck_assert_int_eq(ms_maps_for_each_exec("/proc", getpid(), same_as_read, &s), 0);
	ck_assert_uint_eq(s.n, maps.n);
	ck_assert_int_eq(ms_maps_each(&maps, count_self, &n), 0);
	ck_assert_uint_eq(n, maps.n);
	ck_assert_int_eq(ms_maps_read("/proc", 0x7ffffff0, &maps), -ESRCH);
	ck_assert_uint_eq(maps.n, 0);
	ck_assert_ptr_null(maps.v);
	ms_maps_free(&maps);
}
END_TEST

static int find_mapping(const struct ms_mapping *m, void *ctx)
{
	struct ms_mapping *want = ctx;

	if (strcmp(m->path, want->path))
		return 0;
	*want = *m;
	return 1;
}

/* ms_maps_pin on the mapping m of this process (through proc_root): the descriptor's file
 * identity compared with want's, or the error */
static int pin_is(const char *proc_root, const struct ms_mapping *m, const struct stat *want)
{
	struct stat st;
	int fd = ms_maps_pin(proc_root, getpid(), m, &st);

	if (fd < 0)
		return fd;
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_uint_eq(st.st_dev, want->st_dev);
	ck_assert_uint_eq(st.st_ino, want->st_ino);
	close(fd);
	return 0;
}

/* A mapped file's path turned into a FIFO, another file, the file again: pinned only
 * when it is the mapping's file, and never opened (a FIFO would block) */
START_TEST(pin_mapping)
{
	char dir[] = "/tmp/ms-procmaps-XXXXXX", path[64], keep[64], proc[128], root[160], mf[256];
	static char page[8192];
	struct ms_mapping m = { 0 };
	struct stat orig;
	void *at;
	int fd;

	alarm(20); /* a blocking open would hang here */
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/lib.so", dir);
	snprintf(keep, sizeof(keep), "%s/keep", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0700);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, page, sizeof(page)), sizeof(page));
	at = mmap(NULL, sizeof(page), PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
	close(fd);
	if (at == MAP_FAILED) {
		/* /tmp mounted noexec: nothing to pin here */
		unlink(path);
		rmdir(dir);
		return;
	}
	ck_assert_int_eq(stat(path, &orig), 0);
	m.path = path;
	ck_assert_int_eq(ms_maps_for_each_exec("/proc", getpid(), find_mapping, &m), 1);
	ck_assert_uint_eq(m.inode, orig.st_ino);
	ck_assert(ms_maps_same_file(&orig, m.dev_major, m.dev_minor, m.inode));
	m.path = path; /* the parsed one pointed into the reader's line */

	/* a /proc without map_files (as without CAP_SYS_ADMIN): the path, checked */
	snprintf(proc, sizeof(proc), "%s/proc/%d", dir, (int)getpid());
	snprintf(root, sizeof(root), "%s/root", proc);
	snprintf(mf, sizeof(mf), "mkdir -p %s", proc);
	ck_assert_int_eq(system(mf), 0);
	ck_assert_int_eq(symlink("/", root), 0);
	snprintf(proc, sizeof(proc), "%s/proc", dir);
	ck_assert_int_eq(pin_is(proc, &m, &orig), 0);
	ck_assert_int_eq(link(path, keep), 0);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	ck_assert_int_eq(pin_is(proc, &m, &orig), -ESTALE);
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0700);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(pin_is(proc, &m, &orig), -ESTALE); /* a regular file, another one */
	unlink(path);
	ck_assert_int_eq(pin_is(proc, &m, &orig), -ENOENT);

	/* the real /proc: map_files is the mapped file itself, whatever the path names (it
	 * needs CAP_SYS_ADMIN; without it, the path is checked as above) */
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	snprintf(mf, sizeof(mf), "/proc/self/map_files/%llx-%llx", (unsigned long long)m.start,
		 (unsigned long long)m.end);
	if (!access(mf, F_OK))
		ck_assert_int_eq(pin_is("/proc", &m, &orig), 0);
	else
		ck_assert_int_eq(pin_is("/proc", &m, &orig), -ESTALE);
	unlink(path);
	ck_assert_int_eq(link(keep, path), 0);
	ck_assert_int_eq(pin_is("/proc", &m, &orig), 0);

	munmap(at, sizeof(page));
	snprintf(mf, sizeof(mf), "rm -rf %s", dir);
	ck_assert_int_eq(system(mf), 0);
	alarm(0);
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
	tcase_add_test(tc, read_once);
	tcase_add_test(tc, pin_mapping);
	suite_add_tcase(s, tc);
	return s;
}
