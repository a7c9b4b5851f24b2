/* test_launch.c: a command started held before exec (user/launch.c): PATH search, the
 * dynamic loader found for a dynamic program, a script and a static one, the child held
 * until release and reaped by abort, errors for what cannot run */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "elfsym.h"
#include "launch.h"
#include "unit.h"

static char dir[] = "/tmp/ms-launch-XXXXXX";

static void setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[64];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
	strcpy(dir, "/tmp/ms-launch-XXXXXX");
}

/* dir/name with text, mode mode: its path into path */
static void put(const char *name, const void *text, size_t len, mode_t mode, char *path)
{
	int fd;

	snprintf(path, PATH_MAX, "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
}

/* Whether the child is still held: alive, not exec'd (its executable is ours) */
static void assert_held(pid_t pid)
{
	char exe[64], got[PATH_MAX], mine[PATH_MAX];
	ssize_t n, m;

	ck_assert_int_eq(waitpid(pid, NULL, WNOHANG), 0);
	snprintf(exe, sizeof(exe), "/proc/%d/exe", (int)pid);
	n = readlink(exe, got, sizeof(got) - 1);
	m = readlink("/proc/self/exe", mine, sizeof(mine) - 1);
	ck_assert(n > 0 && m > 0);
	got[n] = mine[m] = '\0';
	ck_assert_str_eq(got, mine);
}

/* The child's exit status once released */
static int released_status(struct ms_launch *l)
{
	int status;

	ck_assert_int_eq(ms_launch_release(l), 0);
	ck_assert_int_eq(l->gate, -1);
	ck_assert_int_eq(waitpid(l->pid, &status, 0), l->pid);
	ck_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* A command named without a slash is found through PATH, its loader is the one its
 * ELF file names, and the child runs it only once released */
START_TEST(dynamic_through_path)
{
	char *argv[] = { "sh", "-c", "exit 7", NULL }, want[PATH_MAX];
	const char *old = getenv("PATH");
	char *saved = old ? strdup(old) : NULL;
	struct ms_launch l;
	int err;

	ck_assert_int_eq(setenv("PATH", "/nonexistent:/bin:/usr/bin", 1), 0);
	err = ms_launch_prepare(&l, argv);
	if (saved)
		setenv("PATH", saved, 1);
	free(saved);
	ck_assert_int_eq(err, 0);
	ck_assert_str_eq(l.path, "/bin/sh");
	ck_assert_str_eq(l.image, "/bin/sh");
	ck_assert_int_eq(ms_elf_interp("/bin/sh", want, sizeof(want)), 0);
	ck_assert_str_eq(l.interp, want);
	ck_assert_int_ge(l.gate, 0);
	ck_assert_int_gt(l.pid, 0);
	assert_held(l.pid);
	usleep(100 * 1000);
	assert_held(l.pid); /* still: it waits for the gate, not for time */
	ck_assert_int_eq(released_status(&l), 7);
	ck_assert_int_eq(ms_launch_release(&l), -EINVAL); /* once only */
	ms_launch_abort(&l);				  /* nothing left to abort */
}
END_TEST

/* A script's loader is its interpreter's; the child runs the script with its arguments */
START_TEST(script_interpreter)
{
	static const char text[] = "#!/bin/sh\nexit \"$1\"\n";
	char path[PATH_MAX], want[PATH_MAX], *argv[] = { path, "5", NULL };
	struct ms_launch l;

	put("script", text, sizeof(text) - 1, 0755, path);
	ck_assert_int_eq(ms_launch_prepare(&l, argv), 0);
	ck_assert_str_eq(l.path, path);
	ck_assert_str_eq(l.image, "/bin/sh");
	ck_assert_int_eq(ms_elf_interp("/bin/sh", want, sizeof(want)), 0);
	ck_assert_str_eq(l.interp, want);
	ck_assert_int_eq(released_status(&l), 5);
}
END_TEST

#if defined(__x86_64__)
/* A static program (no PT_INTERP): exit(42) in three instructions, loaded at 4 MiB */
static size_t static_program(unsigned char *buf)
{
	static const unsigned char code[] = {
		0xb8, 0x3c, 0x00, 0x00, 0x00, /* mov $60, %eax (exit) */
		0xbf, 0x2a, 0x00, 0x00, 0x00, /* mov $42, %edi */
		0x0f, 0x05,		      /* syscall */
	};
	const uint64_t base = 0x400000;
	Elf64_Ehdr *eh = (Elf64_Ehdr *)buf;
	Elf64_Phdr *ph = (Elf64_Phdr *)(buf + sizeof(*eh));
	size_t size = sizeof(*eh) + sizeof(*ph) + sizeof(code);

	memset(buf, 0, size);
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_EXEC;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_entry = base + sizeof(*eh) + sizeof(*ph);
	eh->e_phoff = sizeof(*eh);
	eh->e_ehsize = sizeof(*eh);
	eh->e_phentsize = sizeof(*ph);
	eh->e_phnum = 1;
	ph->p_type = PT_LOAD;
	ph->p_flags = PF_R | PF_X;
	ph->p_vaddr = ph->p_paddr = base;
	ph->p_filesz = ph->p_memsz = size;
	ph->p_align = 0x1000;
	memcpy(buf + sizeof(*eh) + sizeof(*ph), code, sizeof(code));
	return size;
}

/* A static program has no loader ("") and runs once released */
START_TEST(static_no_interp)
{
	unsigned char prog[256];
	char path[PATH_MAX], *argv[] = { path, NULL };
	struct ms_launch l;

	put("static", prog, static_program(prog), 0755, path);
	ck_assert_int_eq(ms_launch_prepare(&l, argv), 0);
	ck_assert_str_eq(l.path, path);
	ck_assert_str_eq(l.interp, "");
	assert_held(l.pid);
	ck_assert_int_eq(released_status(&l), 42);
}
END_TEST
#endif

/* A child never released is killed and reaped by abort (it never runs the command) */
START_TEST(abort_reaps)
{
	char path[PATH_MAX], mark[PATH_MAX], text[PATH_MAX + 32], *argv[] = { path, NULL };
	struct ms_launch l;
	int n;

	snprintf(mark, sizeof(mark), "%s/ran", dir);
	n = snprintf(text, sizeof(text), "#!/bin/sh\ntouch '%s'\n", mark);
	put("marker", text, (size_t)n, 0755, path);
	ck_assert_int_eq(ms_launch_prepare(&l, argv), 0);
	assert_held(l.pid);
	ms_launch_abort(&l);
	ck_assert_int_eq(l.gate, -1);
	errno = 0;
	ck_assert_int_eq(waitpid(l.pid, NULL, WNOHANG), -1);
	ck_assert_int_eq(errno, ECHILD);
	ck_assert_int_eq(access(mark, F_OK), -1);
	ms_launch_abort(&l); /* twice: nothing */
	ck_assert_int_eq(ms_launch_release(&l), -EINVAL);
}
END_TEST

/* What cannot run is refused before any child: not found, not executable, not a program */
START_TEST(refused)
{
	static const char text[] = "just text\n";
	char path[PATH_MAX], *argv[] = { path, NULL }, *missing[] = { "ms-no-such-command", NULL };
	struct ms_launch l;

	ck_assert_int_eq(ms_launch_prepare(&l, missing), -ENOENT);
	snprintf(path, sizeof(path), "%s/absent", dir);
	ck_assert_int_eq(ms_launch_prepare(&l, argv), -ENOENT);
	put("plain", text, sizeof(text) - 1, 0644, path);
	ck_assert_int_eq(ms_launch_prepare(&l, argv), -EACCES);
	put("text", text, sizeof(text) - 1, 0755, path);
	ck_assert_int_eq(ms_launch_prepare(&l, argv), -ENOEXEC);
	ck_assert_int_eq(l.gate, -1);
	errno = 0;
	ck_assert_int_eq(waitpid(-1, NULL, WNOHANG), -1); /* no child was made */
	ck_assert_int_eq(errno, ECHILD);
}
END_TEST

Suite *launch_suite(void)
{
	Suite *s = suite_create("launch");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, dynamic_through_path);
	tcase_add_test(tc, script_interpreter);
#if defined(__x86_64__)
	tcase_add_test(tc, static_no_interp);
#endif
	tcase_add_test(tc, abort_reaps);
	tcase_add_test(tc, refused);
	suite_add_tcase(s, tc);
	return s;
}
