/* test_elfsym.c: symbol lookup and probe planning on real ELF files; files a process can
 * put in an object's place (FIFOs), and objects built to cost (sparse, huge counts) */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "elfsym.h"
#include "probes.h"
#include "procmaps.h"
#include "unit.h"

/* a function of this program whose bytes are compared with the file's */
__attribute__((noinline, used)) int ms_unit_target(int x)
{
	asm volatile("" ::: "memory");
	return x * 3 + 1;
}

START_TEST(own_function)
{
	static const char *const names[] = { "ms_unit_target", "no_such_function_here" };
	struct ms_elf_func f[2];
	unsigned char file[16];
	int fd;

	ck_assert_int_eq(ms_elf_lookup("/proc/self/exe", names, 2, f), 1);
	ck_assert(f[0].found);
	ck_assert(!f[1].found);
	ck_assert_uint_gt(f[0].size, 0);
	/* the file offset holds the function's first bytes, as mapped in memory */
	fd = open("/proc/self/exe", O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, file, sizeof(file), f[0].file_off), sizeof(file));
	close(fd);
	ck_assert_int_eq(memcmp(file, (void *)ms_unit_target, sizeof(file)), 0);
}
END_TEST

static int find_libc(const struct ms_mapping *m, void *ctx)
{
	if (!ms_is_libc_path(m->path))
		return 0;
	snprintf(ctx, 4096, "%s", m->path);
	return 1;
}

START_TEST(libc_plan)
{
	struct ms_probe_config cfg = { .place = true };
	struct ms_probe_point pts[32];
	struct ms_catalog *cat = ms_catalog_new();
	struct ms_probes *p = ms_probes_new(cat, NULL, NULL, &cfg);
	char libc[4096] = "";
	int n, i, k, names = 0;

	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(ms_maps_for_each_exec("/proc", getpid(), find_libc, libc), 1);
	n = ms_probes_plan(p, libc, libc, pts, 32);
	ck_assert_int_gt(n, 0);
	for (i = 0; i < n; i++) {
		const char *s;

		for (s = pts[i].name, names++; (s = strchr(s, '/')); s++)
			names++;
		for (k = 0; k < i; k++)
			ck_assert_uint_ne(pts[i].file_off, pts[k].file_off);
	}
	/* every traced function is found once, aliases joined into one point */
	ck_assert_int_eq(names, (int)MS_PRESET_LIBC->nfns);
	ck_assert_str_eq(pts[0].name, "malloc");
	for (i = 0; i < n; i++) {
		ck_assert_uint_eq(pts[i].allocator, 1);
		if (!strcmp(pts[i].name, "mmap"))
			ck_assert(pts[i].fn.flags & MS_FNF_BACKING_ONLY);
	}
	/* glibc 2.36: memalign is aligned_alloc */
	if (n == 11) {
		for (i = 0; i < n; i++)
			if (!strcmp(pts[i].name, "aligned_alloc/memalign"))
				break;
		ck_assert_int_lt(i, n);
	}
	/* this program is no libc, and has none of the allocators' marker functions */
	ck_assert_int_eq(ms_probes_plan(p, "/proc/self/exe", "/usr/bin/unit-tests", pts, 32), 0);
	ms_probes_free(p);
	ms_catalog_free(cat);
}
END_TEST

static void write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
}

START_TEST(bad_files)
{
	static const char *const names[] = { "malloc" };
	char dir[] = "/tmp/ms-unit-XXXXXX", path[64], interp[256];
	struct ms_elf_func f;
	static char head[4096];
	int fd;
	ssize_t n;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/x", dir);
	ck_assert_int_eq(ms_elf_lookup("/nonexistent/libc.so.6", names, 1, &f), -ENOENT);
	write_file(path, "not an elf file at all", 22);
	ck_assert_int_eq(ms_elf_lookup(path, names, 1, &f), -ENOEXEC);
	ck_assert_int_eq(ms_elf_interp(path, interp, sizeof(interp)), -ENOEXEC);
	write_file(path, "", 0);
	ck_assert_int_eq(ms_elf_lookup(path, names, 1, &f), -ENOEXEC);
	/* a truncated ELF: its header only, or a part of its sections */
	fd = open("/proc/self/exe", O_RDONLY);
	n = read(fd, head, sizeof(head));
	close(fd);
	ck_assert_int_eq(n, sizeof(head));
	write_file(path, head, 64);
	ck_assert_int_le(ms_elf_lookup(path, names, 1, &f), 0);
	write_file(path, head, sizeof(head));
	ck_assert_int_le(ms_elf_lookup(path, names, 1, &f), 0);
	{
		struct ms_probe_config cfg = { .place = true };
		struct ms_catalog *cat = ms_catalog_new();
		struct ms_probes *p = ms_probes_new(cat, NULL, NULL, &cfg);
		struct ms_probe_point pts[4];

		ck_assert_int_le(ms_probes_plan(p, path, "/lib/libc.so.6", pts, 4), 0);
		ms_probes_free(p);
		ms_catalog_free(cat);
	}
	unlink(path);
	rmdir(dir);
}
END_TEST

/* A FIFO where an object was: every function returns at once, the FIFO never opened
 * (a blocking open would wait for a writer for ever) */
START_TEST(fifo_never_opened)
{
	static const char *const names[] = { "malloc" };
	char dir[] = "/tmp/ms-unit-XXXXXX", path[64], buf[256];
	struct ms_elf_func f;
	struct stat st;
	uint64_t into;
	int fd;

	alarm(10);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/libc.so.6", dir);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	ck_assert_int_eq(ms_elf_open_file(path, &st), -ENOEXEC);
	ck_assert_int_eq(ms_elf_pin_file(path, &st), -ENOEXEC);
	ck_assert_int_eq(ms_elf_lookup(path, names, 1, &f), -ENOEXEC);
	ck_assert_int_eq(ms_elf_symbolize(path, 0x1000, buf, sizeof(buf), &into), -ENOEXEC);
	ck_assert_int_eq(ms_elf_interp(path, buf, sizeof(buf)), -ENOEXEC);
	{
		struct ms_probe_config cfg = { .place = true };
		struct ms_catalog *cat = ms_catalog_new();
		struct ms_probes *p = ms_probes_new(cat, NULL, NULL, &cfg);
		struct ms_probe_point pts[4];

		ck_assert_int_eq(ms_probes_plan(p, path, path, pts, 4), -ENOEXEC);
		ms_probes_free(p);
		ms_catalog_free(cat);
	}
	/* a directory, and a regular file: the descriptor reads the file */
	ck_assert_int_eq(ms_elf_open_file(dir, &st), -ENOEXEC);
	fd = ms_elf_open_file("/proc/self/exe", &st);
	ck_assert_int_ge(fd, 0);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_int_eq(pread(fd, buf, 4, 0), 4);
	ck_assert_int_eq(memcmp(buf, ELFMAG, SELFMAG), 0);
	close(fd);
	unlink(path);
	rmdir(dir);
	alarm(0);
}
END_TEST

/*
 * An ELF64 object of size bytes, nearly all of it a hole: a header, a section header table
 * at 4 KiB, and the sections of shdrs (section 0 first). With shnum 0 and ext, the count
 * is section 0's sh_size (extended numbering); phnum PN_XNUM takes section 0's sh_info.
 */
static void sparse_elf(const char *path, uint64_t size, const Elf64_Shdr *shdrs, unsigned n,
		       unsigned phnum)
{
	Elf64_Ehdr eh = { .e_type = ET_DYN, .e_machine = EM_X86_64, .e_version = EV_CURRENT };
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	eh.e_ehsize = sizeof(eh);
	eh.e_shoff = 4096;
	eh.e_shentsize = sizeof(Elf64_Shdr);
	eh.e_shnum = n < SHN_LORESERVE ? n : 0;
	eh.e_phentsize = sizeof(Elf64_Phdr);
	eh.e_phnum = phnum;
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, &eh, sizeof(eh), 0), sizeof(eh));
	ck_assert_int_eq(pwrite(fd, shdrs, n < 64 ? n * sizeof(*shdrs) : sizeof(*shdrs), 4096),
			 (ssize_t)(n < 64 ? n * sizeof(*shdrs) : sizeof(*shdrs)));
	ck_assert_int_eq(ftruncate(fd, size), 0);
	close(fd);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static long maxrss_kb(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

/* Every call on path gives err at once (well under a second) and within a few MiB */
static void costs_nothing(const char *path, int err)
{
	static const char *const names[] = { "malloc", "main" };
	struct ms_elf_func f[2];
	char name[64];
	uint64_t into;
	long rss = maxrss_kb();
	double t = now_s();

	ck_assert_int_eq(ms_elf_lookup(path, names, 2, f), err);
	ck_assert_int_eq(ms_elf_symbolize(path, 4096, name, sizeof(name), &into),
			 err ? err : -ENOENT);
	ck_assert_double_lt(now_s() - t, 1.0);
	ck_assert_int_lt(maxrss_kb() - rss, 16 * 1024);
}

#define SPARSE (128ull << 20)

/* The object: 128 MiB (8 KiB on disk), eight symbol tables over the whole file
 * (the tracer went to 1.09 GB and 6 s); then huge header counts, lying entry sizes */
START_TEST(costly_objects)
{
	char dir[] = "/tmp/ms-unit-XXXXXX", path[64];
	Elf64_Shdr sh[10];
	unsigned i;

	alarm(30);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/crafted.so", dir);
	memset(sh, 0, sizeof(sh));
	for (i = 1; i <= 8; i++)
		sh[i] = (Elf64_Shdr){ .sh_type = SHT_SYMTAB,
				      .sh_size = SPARSE / 24 * 24,
				      .sh_link = 9,
				      .sh_entsize = sizeof(Elf64_Sym) };
	sh[9] = (Elf64_Shdr){ .sh_type = SHT_STRTAB, .sh_size = SPARSE };
	sparse_elf(path, SPARSE, sh, 10, 0);
	costs_nothing(path, -EFBIG);

	/* one symbol table inside the bounds (its size, its symbols) is read */
	sh[1].sh_size = 1000 * sizeof(Elf64_Sym);
	sh[1].sh_offset = 8192;
	sh[2] = (Elf64_Shdr){ .sh_type = SHT_STRTAB, .sh_offset = 65536, .sh_size = 4096 };
	sh[1].sh_link = 2;
	sparse_elf(path, SPARSE, sh, 3, 0);
	costs_nothing(path, 0);
	/* past the symbols' bound, within the bytes' */
	sh[1].sh_size = (uint64_t)(MS_ELF_SYMS_MAX + 1) * sizeof(Elf64_Sym);
	sparse_elf(path, SPARSE, sh, 3, 0);
	costs_nothing(path, -EFBIG);
	/* a table past the file's end, and one of 1-byte entries: skipped, cost nothing */
	sh[1].sh_size = SPARSE;
	sparse_elf(path, SPARSE, sh, 3, 0);
	costs_nothing(path, 0);
	sh[1].sh_size = MS_ELF_TABLE_BYTES_MAX - 8192;
	sh[1].sh_entsize = 1;
	sparse_elf(path, SPARSE, sh, 3, 0);
	costs_nothing(path, 0);

	/* two million section headers (extended numbering, section 0's sh_size): libelf
	 * would take every one the file's size allows */
	memset(sh, 0, sizeof(sh));
	sh[0].sh_size = 2000000;
	sparse_elf(path, SPARSE, sh, 2000000, 0);
	costs_nothing(path, -EFBIG);
	/* and as many program headers (PN_XNUM, section 0's sh_info) */
	sh[0].sh_size = 0;
	sh[0].sh_info = 2000000;
	sparse_elf(path, SPARSE, sh, 1, PN_XNUM);
	costs_nothing(path, -EFBIG);
	unlink(path);
	rmdir(dir);
	alarm(0);
}
END_TEST

START_TEST(interp)
{
	char buf[256];

	ck_assert_int_eq(ms_elf_interp("/proc/self/exe", buf, sizeof(buf)), 0);
	ck_assert(ms_is_loader_path(buf));
}
END_TEST

START_TEST(name_matching)
{
	/* _ZN5Arena8AllocateEm: Arena::Allocate(unsigned long) */
	ck_assert(ms_elf_demangled_match("_ZN5Arena8AllocateEm", "Arena::Allocate"));
	ck_assert(!ms_elf_demangled_match("_ZN5Arena8AllocateEm", "Arena::Alloc"));
	ck_assert(!ms_elf_demangled_match("_ZN5Arena8AllocateEm", "Allocate"));
	ck_assert(!ms_elf_demangled_match("Arena_Allocate", "Arena_Allocate"));
	ck_assert(ms_elf_demangled_match("_ZN2ns4PoolIiE3getEm", "ns::Pool<int>::get"));
	ck_assert(ms_elf_rust_match("_RNvCsfLfy6EI15iL_7___rustc12___rust_alloc", "__rust_alloc"));
	ck_assert(!ms_elf_rust_match("_RNvCsfLfy6EI15iL_7___rustc19___rust_alloc_zeroed",
				     "__rust_alloc"));
	ck_assert(ms_elf_rust_match("_RNvCsfLfy6EI15iL_7___rustc19___rust_alloc_zeroed",
				    "__rust_alloc_zeroed"));
	ck_assert(
		!ms_elf_rust_match("_RNvCsfLfy6EI15iL_7___rustc112___rust_alloc", "__rust_alloc"));
	ck_assert(!ms_elf_rust_match("__rust_alloc", "__rust_alloc"));
}
END_TEST

START_TEST(path_classes)
{
	ck_assert(ms_is_libc_path("/usr/lib/x86_64-linux-gnu/libc.so.6"));
	ck_assert(ms_is_libc_path("/lib/libc-2.31.so"));
	ck_assert(ms_is_libc_path("/lib/ld-musl-x86_64.so.1"));
	ck_assert(!ms_is_libc_path("/usr/lib/libcrypto.so.3"));
	ck_assert(!ms_is_libc_path("/usr/lib/x86_64-linux-gnu/libcap.so.2"));
	ck_assert(!ms_is_libc_path("/usr/lib/libc"));
	ck_assert(ms_is_loader_path("/lib64/ld-linux-x86-64.so.2"));
	ck_assert(!ms_is_loader_path("/lib/ld-musl-x86_64.so.1"));
	ck_assert(!ms_is_loader_path("/usr/bin/ld-wrapper"));
}
END_TEST

Suite *elfsym_suite(void)
{
	Suite *s = suite_create("elfsym");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, own_function);
	tcase_add_test(tc, libc_plan);
	tcase_add_test(tc, bad_files);
	tcase_add_test(tc, fifo_never_opened);
	tcase_add_test(tc, costly_objects);
	tcase_add_test(tc, interp);
	tcase_add_test(tc, name_matching);
	tcase_add_test(tc, path_classes);
	suite_add_tcase(s, tc);
	return s;
}
