/* test_safepath.c: paths resolved one component at a time (safepath.c): regular files,
 * symbolic links relative and absolute, inside /proc/PID/root, loops, other file kinds,
 * the links the kernel follows */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "safepath.h"
#include "unit.h"

static char dir[64];

static void mkfile(const char *name, const char *text)
{
	char p[256];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	f = fopen(p, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static void in_dir(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

/* The inode of the file pinned at path; fails the test on an error */
static ino_t pinned_ino(const char *path)
{
	struct stat st;
	int fd = ms_path_pin(path, &st);

	ck_assert_msg(fd >= 0, "%s: %s", path, strerror(-fd));
	close(fd);
	return st.st_ino;
}

static void setup(void)
{
	char p[256], q[256];

	strcpy(dir, "/tmp/ms-safepath-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	mkfile("file", "regular");
	in_dir(p, sizeof(p), "sub");
	ck_assert_int_eq(mkdir(p, 0755), 0);
	mkfile("sub/inner", "inner");
	in_dir(p, sizeof(p), "rel");
	ck_assert_int_eq(symlink("sub/inner", p), 0);
	in_dir(p, sizeof(p), "sub/up");
	ck_assert_int_eq(symlink("../file", p), 0);
	in_dir(p, sizeof(p), "abs");
	in_dir(q, sizeof(q), "sub/inner");
	ck_assert_int_eq(symlink(q, p), 0);
	in_dir(p, sizeof(p), "loop_a");
	ck_assert_int_eq(symlink("loop_b", p), 0);
	in_dir(p, sizeof(p), "loop_b");
	ck_assert_int_eq(symlink("loop_a", p), 0);
	in_dir(p, sizeof(p), "fifo");
	ck_assert_int_eq(mkfifo(p, 0600), 0);
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

START_TEST(regular_and_links)
{
	char p[256], q[256];
	struct stat st;

	in_dir(p, sizeof(p), "file");
	ck_assert(stat(p, &st) == 0);
	ck_assert_uint_eq(pinned_ino(p), st.st_ino);
	in_dir(q, sizeof(q), "sub/up");
	ck_assert_uint_eq(pinned_ino(q), st.st_ino);
	in_dir(q, sizeof(q), "sub/./../sub/up");
	ck_assert_uint_eq(pinned_ino(q), st.st_ino);
	in_dir(p, sizeof(p), "sub/inner");
	ck_assert(stat(p, &st) == 0);
	in_dir(q, sizeof(q), "rel");
	ck_assert_uint_eq(pinned_ino(q), st.st_ino);
	in_dir(q, sizeof(q), "abs");
	ck_assert_uint_eq(pinned_ino(q), st.st_ino);
}
END_TEST

START_TEST(other_kinds)
{
	char p[256];

	in_dir(p, sizeof(p), "fifo");
	ck_assert_int_eq(ms_path_pin(p, NULL), -ENOEXEC);
	in_dir(p, sizeof(p), "sub");
	ck_assert_int_eq(ms_path_pin(p, NULL), -ENOEXEC);
	in_dir(p, sizeof(p), "loop_a");
	ck_assert_int_eq(ms_path_pin(p, NULL), -ELOOP);
	in_dir(p, sizeof(p), "missing");
	ck_assert_int_eq(ms_path_pin(p, NULL), -ENOENT);
	in_dir(p, sizeof(p), "file/below");
	ck_assert_int_eq(ms_path_pin(p, NULL), -ENOTDIR);
}
END_TEST

/* Under /proc/PID/root, absolute links resolve inside that root, and ".." stops at it */
START_TEST(inside_proc_root)
{
	char p[256], q[256];
	struct stat st;

	in_dir(p, sizeof(p), "sub/inner");
	ck_assert(stat(p, &st) == 0);
	snprintf(q, sizeof(q), "/proc/%d/root%s/abs", (int)getpid(), dir);
	ck_assert_uint_eq(pinned_ino(q), st.st_ino);
	snprintf(q, sizeof(q), "/proc/%d/root/../../..%s/rel", (int)getpid(), dir);
	ck_assert_uint_eq(pinned_ino(q), st.st_ino);
}
END_TEST

/* The links the kernel follows itself: a pinned descriptor, the executable */
START_TEST(kernel_links)
{
	char p[256], q[64];
	struct stat st, self;
	int fd;

	in_dir(p, sizeof(p), "file");
	fd = ms_path_pin(p, &st);
	ck_assert_int_ge(fd, 0);
	snprintf(q, sizeof(q), "/proc/self/fd/%d", fd);
	ck_assert_uint_eq(pinned_ino(q), st.st_ino);
	close(fd);
	ck_assert(stat("/proc/self/exe", &self) == 0);
	snprintf(q, sizeof(q), "/proc/%d/exe", (int)getpid());
	ck_assert_uint_eq(pinned_ino(q), self.st_ino);
}
END_TEST

START_TEST(fuse_types)
{
	ck_assert(ms_path_fstype_fuse("fuse"));
	ck_assert(ms_path_fstype_fuse("fuseblk"));
	ck_assert(ms_path_fstype_fuse("fuse.sshfs"));
	ck_assert(!ms_path_fstype_fuse("fusectl"));
	ck_assert(!ms_path_fstype_fuse("ext4"));
	ck_assert(!ms_path_fstype_fuse("overlay"));
}
END_TEST

Suite *safepath_suite(void)
{
	Suite *s = suite_create("safepath");
	TCase *tc = tcase_create("paths");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, regular_and_links);
	tcase_add_test(tc, other_kinds);
	tcase_add_test(tc, inside_proc_root);
	tcase_add_test(tc, kernel_links);
	tcase_add_test(tc, fuse_types);
	suite_add_tcase(s, tc);
	return s;
}
