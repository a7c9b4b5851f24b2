/* test_deps.c: the objects a program loads (deps.c) against the loader's own answer
 * (ld.so --list, the same environment), and the dynamic entries they come from (elfsym.c) */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "deps.h"
#include "elfsym.h"
#include "unit.h"

#define LOADER "/lib64/ld-linux-x86-64.so.2"
#define MAX_OBJS 64

struct objs {
	size_t n;
	char path[MAX_OBJS][PATH_MAX]; /* real paths, sorted */
};

static int by_name(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void add_real(struct objs *o, const char *path)
{
	char real[PATH_MAX];
	size_t i;

	ck_assert_msg(realpath(path, real), "%s: %s", path, strerror(errno));
	for (i = 0; i < o->n; i++)
		if (!strcmp(o->path[i], real))
			return;
	ck_assert_uint_lt(o->n, MAX_OBJS);
	snprintf(o->path[o->n++], PATH_MAX, "%s", real);
}

/* What the loader loads for program, LD_PRELOAD and LD_LIBRARY_PATH as given (NULL: unset),
 * less the vDSO and the loader itself */
static void loader_says(const char *program, const char *preload, const char *library_path,
			struct objs *o)
{
	char cmd[3 * PATH_MAX], line[2 * PATH_MAX], *arrow, *p;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "env -i %s%s%s %s%s%s " LOADER " --list %s",
		 preload ? "LD_PRELOAD='" : "", preload ? preload : "", preload ? "'" : "",
		 library_path ? "LD_LIBRARY_PATH='" : "", library_path ? library_path : "",
		 library_path ? "'" : "", program);
	f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	o->n = 0;
	while (fgets(line, sizeof(line), f)) {
		arrow = strstr(line, "=> ");
		p = arrow ? arrow + 3 : line + strspn(line, " \t");
		if (*p != '/')
			continue; /* linux-vdso.so.1 */
		p[strcspn(p, " \n")] = '\0';
		add_real(o, p);
	}
	ck_assert_int_eq(pclose(f), 0);
	qsort(o->path, o->n, sizeof(o->path[0]), by_name);
}

static void deps_say(const char *program, const struct ms_deps_env *env, struct objs *o)
{
	struct ms_deps d;
	size_t i;

	ck_assert_int_eq(ms_deps_find(program, env, &d), 0);
	o->n = 0;
	for (i = 0; i < d.n; i++)
		add_real(o, d.path[i]);
	ms_deps_free(&d);
	qsort(o->path, o->n, sizeof(o->path[0]), by_name);
}

static void same(const struct objs *want, const struct objs *got)
{
	size_t i;

	for (i = 0; i < want->n && i < got->n; i++)
		ck_assert_str_eq(want->path[i], got->path[i]);
	ck_assert_uint_eq(want->n, got->n);
}

static bool has(const struct objs *o, const char *base)
{
	size_t i;

	for (i = 0; i < o->n; i++) {
		const char *s = strrchr(o->path[i], '/');

		if (s && !strncmp(s + 1, base, strlen(base)))
			return true;
	}
	return false;
}

/* The build's directory (of this binary) */
static void build_dir(char *out, size_t len)
{
	ssize_t n = readlink("/proc/self/exe", out, len - 1);

	ck_assert_int_gt(n, 0);
	out[n] = '\0';
	*strrchr(out, '/') = '\0';
}

START_TEST(as_the_loader)
{
	static struct objs want, got;
	struct ms_deps_env env = { 0 };
	char dir[PATH_MAX], prog[PATH_MAX + 64], tmp[] = "/tmp/ms-deps-XXXXXX", copy[PATH_MAX + 64],
						 cmd[2 * PATH_MAX];
	const char *const programs[] = { "/bin/sh", "/usr/bin/python3", prog };
	size_t i;

	build_dir(dir, sizeof(dir));
	snprintf(prog, sizeof(prog), "%s/workloads/jemalloc_api", dir);
	ck_assert_msg(!access(prog, X_OK), "no %s: make all", prog);
	for (i = 0; i < sizeof(programs) / sizeof(programs[0]); i++) {
		loader_says(programs[i], NULL, NULL, &want);
		deps_say(programs[i], &env, &got);
		same(&want, &got);
	}
	ck_assert(has(&got, "libjemalloc.so"));
	ck_assert(!has(&got, "libmimalloc.so"));

	/* LD_PRELOAD counts, by name or by path */
	env.preload = "libmimalloc.so.2 /usr/lib/x86_64-linux-gnu/libtcmalloc.so.4";
	loader_says(prog, env.preload, NULL, &want);
	deps_say(prog, &env, &got);
	same(&want, &got);
	ck_assert(has(&got, "libmimalloc.so") && has(&got, "libtcmalloc.so"));

	/* LD_LIBRARY_PATH before the cache: a copy of jemalloc in a directory of its own */
	ck_assert_ptr_nonnull(mkdtemp(tmp));
	snprintf(copy, sizeof(copy), "%s/libjemalloc.so.2", tmp);
	snprintf(cmd, sizeof(cmd), "cp /usr/lib/x86_64-linux-gnu/libjemalloc.so.2 %s", copy);
	ck_assert_int_eq(system(cmd), 0);
	env.preload = NULL;
	env.library_path = tmp;
	loader_says(prog, NULL, tmp, &want);
	deps_say(prog, &env, &got);
	same(&want, &got);
	for (i = 0; i < got.n; i++)
		if (strstr(got.path[i], "libjemalloc"))
			ck_assert_str_eq(got.path[i], copy);
	unlink(copy);
	rmdir(tmp);

	/* DT_RUNPATH $ORIGIN: a family's library finds libmemscope-preload.so beside it */
	env.library_path = NULL;
	snprintf(prog, sizeof(prog), "%s/libmemscope-preload-jemalloc.so", dir);
	loader_says(prog, NULL, NULL, &want);
	deps_say(prog, &env, &got);
	same(&want, &got);
	ck_assert(has(&got, "libmemscope-preload.so"));

	/* no cache, no system directories: nothing found, nothing made up */
	env.cache = "/nonexistent";
	env.system_dirs = (const char *const[]){ NULL };
	deps_say("/bin/sh", &env, &got);
	ck_assert_uint_eq(got.n, 0);
}
END_TEST

START_TEST(dynamic_entries)
{
	static struct ms_elf_dynamic d;
	char dir[PATH_MAX], lib[PATH_MAX + 64];
	struct ms_deps deps;

	build_dir(dir, sizeof(dir));
	snprintf(lib, sizeof(lib), "%s/libmemscope-preload-tcmalloc.so", dir);
	ck_assert_int_eq(ms_elf_dynamic(lib, &d), 0);
	ck_assert_uint_eq(d.elfclass, 2); /* ELFCLASS64 */
	ck_assert_uint_eq(d.machine, 62); /* EM_X86_64 */
	ck_assert(d.has_runpath && !d.has_rpath);
	ck_assert_str_eq(d.runpath, "$ORIGIN");
	ck_assert_str_eq(d.soname, "");
	ck_assert_uint_ge(d.nneeded, 2);
	ck_assert_str_eq(d.needed[0], "libmemscope-preload.so");
	snprintf(lib, sizeof(lib), "%s/libmemscope-preload.so", dir);
	ck_assert_int_eq(ms_elf_dynamic(lib, &d), 0);
	ck_assert_str_eq(d.soname, "libmemscope-preload.so");

	ck_assert_int_eq(ms_elf_dynamic("/etc/passwd", &d), -ENOEXEC);
	ck_assert_int_eq(ms_deps_find("/etc/passwd", &(struct ms_deps_env){ 0 }, &deps), -ENOEXEC);
	ck_assert_int_eq(ms_deps_find("/nonexistent", &(struct ms_deps_env){ 0 }, &deps), -ENOENT);
	ck_assert_uint_eq(deps.n, 0);
}
END_TEST

Suite *deps_suite(void)
{
	Suite *s = suite_create("deps");
	TCase *tc = tcase_create("loader");

	tcase_add_test(tc, as_the_loader);
	tcase_add_test(tc, dynamic_entries);
	suite_add_tcase(s, tc);
	return s;
}
