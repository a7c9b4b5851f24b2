/* test_symcache.c: call sites to names through a process' mapped objects (user/symcache.c),
 * against this test's own process and a child of it: a function of this binary by its
 * name, a mapping with no symbols as object+offset, no mapping at all, the copy of the
 * mappings kept until forgotten or taken again, and kept after the process exits */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "symcache.h"
#include "unit.h"

#define TARGET "ms_symcache_test_target"

/* A function of this binary, named in its symbol table */
__attribute__((noinline)) int ms_symcache_test_target(int x)
{
	static volatile int sink;

	sink += x;
	return sink * 3 + 1;
}

/* name is TARGET+0x1, bare or followed by " (file:line)" */
static void assert_target(const char *name)
{
	size_t n = strlen(TARGET "+0x1");

	ck_assert_msg(!strncmp(name, TARGET "+0x1", n) && (!name[n] || name[n] == ' '),
		      "resolved to %s, expected " TARGET "+0x1", name);
}

/* An address one byte into the target: a return address inside it */
static uint64_t target_addr(void)
{
	int (*volatile fn)(int) = ms_symcache_test_target;

	ck_assert_int_gt(fn(1), 0);
	return (uint64_t)(uintptr_t)fn + 1;
}

/* A file of no known format mapped executable; its path into path, its size 2 pages */
static void *map_blob(char *path)
{
	static const char *const dirs[] = { "/tmp", "/var/tmp", "." };
	long page = sysconf(_SC_PAGESIZE);
	size_t i;

	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		void *p;
		int fd;

		snprintf(path, PATH_MAX, "%s/ms-symcache-blob-XXXXXX", dirs[i]);
		fd = mkstemp(path);
		if (fd < 0)
			continue;
		ck_assert_int_eq(ftruncate(fd, 2 * page), 0);
		p = mmap(NULL, 2 * page, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
		close(fd);
		if (p != MAP_FAILED)
			return p;
		unlink(path); /* a noexec file system: the next directory */
	}
	ck_abort_msg("cannot map a file executable in /tmp, /var/tmp or .");
	return NULL;
}

/* This binary's function by its name, through a copy taken on the first call */
START_TEST(own_function_named)
{
	struct ms_symcache *c = ms_symcache_new();
	char name[512];

	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(ms_symcache_resolve(getpid(), target_addr(), name, sizeof(name), c), 0);
	assert_target(name);
	ms_symcache_free(c);
}
END_TEST

/* The object holding an address of this binary is this binary's file */
START_TEST(own_object)
{
	struct ms_symcache *c = ms_symcache_new();
	char path[PATH_MAX];
	struct stat a, b;

	ck_assert_int_eq(ms_symcache_object(getpid(), target_addr(), path, sizeof(path), c), 0);
	ck_assert_int_eq(stat(path, &a), 0);
	ck_assert_int_eq(stat("/proc/self/exe", &b), 0);
	ck_assert(a.st_dev == b.st_dev && a.st_ino == b.st_ino);
	ms_symcache_free(c);
}
END_TEST

/* No symbol covers an address of a mapped file with none: object+offset, returns 1; an
 * address in no mapped object: -ENOENT */
START_TEST(unknown_addresses)
{
	struct ms_symcache *c = ms_symcache_new();
	char path[PATH_MAX], name[512], want[PATH_MAX + 32];
	long page = sysconf(_SC_PAGESIZE);
	char *blob = map_blob(path);

	snprintf(want, sizeof(want), "%s+0x%lx", strrchr(path, '/') + 1, (long)page + 0x10);
	ck_assert_int_eq(ms_symcache_resolve(getpid(), (uint64_t)(uintptr_t)blob + page + 0x10,
					     name, sizeof(name), c),
			 1);
	ck_assert_str_eq(name, want);
	ck_assert_int_eq(ms_symcache_resolve(getpid(), 0x10, name, sizeof(name), c), -ENOENT);
	ck_assert_int_eq(ms_symcache_object(getpid(), 0x10, path, sizeof(path), c), -ENOENT);
	munmap(blob, 2 * page);
	unlink(path);
	ms_symcache_free(c);
}
END_TEST

/* A copy of pid's mappings as the tracer takes it: read once, handed to the cache */
static int snapshot(struct ms_symcache *c, pid_t pid)
{
	struct ms_maps maps = { 0 };
	int err = ms_maps_read("/proc", pid, &maps);

	if (!err)
		err = ms_symcache_snapshot(c, &maps);
	ms_maps_free(&maps);
	return err;
}

/* The copy is what resolves: a mapping made after it is not there until the copy is
 * forgotten (the next call takes a new one) or taken again */
START_TEST(copy_forget_and_retake)
{
	struct ms_symcache *c = ms_symcache_new();
	char path[PATH_MAX], name[512];
	long page = sysconf(_SC_PAGESIZE);
	uint64_t addr;
	char *blob;

	ck_assert_int_eq(snapshot(c, getpid()), 0);
	blob = map_blob(path);
	addr = (uint64_t)(uintptr_t)blob + 0x20;
	ck_assert_int_eq(ms_symcache_resolve(getpid(), addr, name, sizeof(name), c), -ENOENT);
	ms_symcache_forget(c, getpid());
	ck_assert_int_eq(ms_symcache_resolve(getpid(), addr, name, sizeof(name), c), 1);
	munmap(blob, 2 * page);
	/* still in the copy taken by the last call */
	ck_assert_int_eq(ms_symcache_resolve(getpid(), addr, name, sizeof(name), c), 1);
	ck_assert_int_eq(snapshot(c, getpid()), 0);
	ck_assert_int_eq(ms_symcache_resolve(getpid(), addr, name, sizeof(name), c), -ENOENT);
	ms_symcache_forget(c, getpid());
	ms_symcache_forget(c, getpid()); /* no copy: nothing */
	ms_symcache_forget(c, 1);
	ck_assert_int_eq(ms_symcache_resolve(getpid(), target_addr(), name, sizeof(name), c), 0);
	assert_target(name);
	unlink(path);
	ms_symcache_free(c);
}
END_TEST

/* A child that waits to be killed */
static pid_t paused_child(void)
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		pause();
		_exit(0);
	}
	return pid;
}

/* A child's copy, taken while it lived, still names its functions after it has exited and
 * been reaped; without a copy, a pid that is gone resolves nothing */
START_TEST(after_exit)
{
	struct ms_symcache *c = ms_symcache_new();
	char name[512];
	int status;
	pid_t pid;

	pid = paused_child();
	ck_assert_int_eq(snapshot(c, pid), 0);
	kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_int_eq(ms_symcache_resolve(pid, target_addr(), name, sizeof(name), c), 0);
	assert_target(name);
	ms_symcache_forget(c, pid);
	ck_assert_int_eq(ms_symcache_resolve(pid, target_addr(), name, sizeof(name), c), -ENOENT);
	ck_assert_int_lt(snapshot(c, pid), 0);
	ms_symcache_free(c);
}
END_TEST

/* Copies of two processes, the first forgotten, a new one taken: the new copy takes the
 * slot the second moved out of, and the second still resolves */
START_TEST(forget_then_retake)
{
	struct ms_symcache *c = ms_symcache_new();
	char name[512];
	int status;
	pid_t pid;

	pid = paused_child();
	ck_assert_int_eq(snapshot(c, getpid()), 0);
	ck_assert_int_eq(snapshot(c, pid), 0);
	ms_symcache_forget(c, getpid());
	ck_assert_int_eq(snapshot(c, getpid()), 0);
	kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_int_eq(ms_symcache_resolve(pid, target_addr(), name, sizeof(name), c), 0);
	assert_target(name);
	ms_symcache_forget(c, pid);
	ck_assert_int_eq(ms_symcache_resolve(getpid(), target_addr(), name, sizeof(name), c), 0);
	ms_symcache_free(c);
}
END_TEST

/* An address in an object with no symbols is no thread start while the object can be
 * read; once its process is gone and its file deleted, it cannot be told */
START_TEST(start_of_gone_object)
{
	struct ms_symcache *c = ms_symcache_new();
	long page = sysconf(_SC_PAGESIZE);
	char path[PATH_MAX], *blob;
	uint64_t addr;
	int status;
	pid_t pid;

	blob = map_blob(path);
	addr = (uint64_t)(uintptr_t)blob + 0x10;
	pid = paused_child();
	ck_assert_int_eq(snapshot(c, pid), 0);
	kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_int_eq(ms_symcache_start(pid, addr, c), 0);
	ck_assert_int_eq(ms_symcache_start(pid, target_addr(), c), 0);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(ms_symcache_start(pid, addr, c), -ENODATA);
	ck_assert_int_eq(ms_symcache_start(pid, target_addr(), c), 0);
	munmap(blob, 2 * page);
	ms_symcache_free(c);
}
END_TEST

/* The functions a thread starts in end a whole stack; others, and near names, do not */
START_TEST(thread_starts)
{
	static const char *const starts[] = {
		"_start", "__libc_start_main", "__libc_start_call_main", "start_thread",
		"clone3", "_dl_start_user"
	};
	static const char *const others[] = {
		"main", "_start2", "start", "clone3x", "", "__libc_start_main@@GLIBC_2.34"
	};
	size_t i;

	for (i = 0; i < sizeof(starts) / sizeof(starts[0]); i++)
		ck_assert_msg(ms_is_thread_start(starts[i]), "%s", starts[i]);
	for (i = 0; i < sizeof(others) / sizeof(others[0]); i++)
		ck_assert_msg(!ms_is_thread_start(others[i]), "%s", others[i]);
}
END_TEST

Suite *symcache_suite(void)
{
	Suite *s = suite_create("symcache");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, own_function_named);
	tcase_add_test(tc, own_object);
	tcase_add_test(tc, unknown_addresses);
	tcase_add_test(tc, copy_forget_and_retake);
	tcase_add_test(tc, after_exit);
	tcase_add_test(tc, forget_then_retake);
	tcase_add_test(tc, start_of_gone_object);
	tcase_add_test(tc, thread_starts);
	suite_add_tcase(s, tc);
	return s;
}
