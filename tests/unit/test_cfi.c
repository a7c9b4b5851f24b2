/* test_cfi.c: CFI rows (cfi.c) of a fixture whose call frame information is known
 * (fixtures/cfi_fixture.S, built at test time), of this program and of libc */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cfi.h"
#include "elfsym.h"
#include "procmaps.h"
#include "unit.h"

static char fixture[PATH_MAX];

static void fixture_build(void)
{
	const char *slash = strrchr(__FILE__, '/');
	char cmd[2 * PATH_MAX + 128];

	snprintf(fixture, sizeof(fixture), "/tmp/ms-cfi-%d.so", (int)getpid());
	snprintf(cmd, sizeof(cmd), "cc -shared -nostdlib %.*s/fixtures/cfi_fixture.S -o %s",
		 slash ? (int)(slash - __FILE__) : 1, slash ? __FILE__ : ".", fixture);
	if (system(cmd))
		fixture[0] = '\0';
}

static void fixture_remove(void)
{
	if (fixture[0])
		unlink(fixture);
}

static void read_rows(const char *path, struct ms_cfi_table *t)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ms_cfi_read(fd, t), 0);
	close(fd);
}

#define CK_RULE(t, pc, reg, off, saved, rbp)                                                       \
	do {                                                                                       \
		const struct ms_cfi_row *r_ = ms_cfi_find(t, pc);                                  \
		ck_assert_msg(r_, "no row at 0x%x", (unsigned)(pc));                               \
		ck_assert_msg(r_->cfa_reg == (reg) && r_->cfa_off == (off) &&                      \
				      r_->rbp_saved == (saved) && r_->rbp_off == (rbp),            \
			      "0x%x: reg %u off %d rbp %u %d, expected reg %u off %d rbp %u %d",   \
			      (unsigned)(pc), r_->cfa_reg, r_->cfa_off, r_->rbp_saved,             \
			      r_->rbp_off, reg, off, saved, rbp);                                  \
	} while (0)

/* Each instruction of the fixture has the rule its directives give */
START_TEST(fixture_rules)
{
	static const char *const names[] = { "f_plain", "f_fp",	 "f_expr",     "f_none",
					     "f_after", "f_sig", "f_sig_apart" };
	struct ms_elf_func f[7];
	struct ms_cfi_table t;
	uint32_t plain, fp, expr, none, after, sig, apart;
	size_t i;

	ck_assert_msg(fixture[0], "cc could not build the fixture");
	ck_assert_int_eq(ms_elf_lookup(fixture, names, 7, f), 7);
	plain = f[0].addr, fp = f[1].addr, expr = f[2].addr, none = f[3].addr, after = f[4].addr;
	sig = f[5].addr, apart = f[6].addr;
	read_rows(fixture, &t);
	ck_assert_uint_eq(t.fdes, 6);
	for (i = 1; i < t.n; i++)
		ck_assert_uint_lt(t.v[i - 1].pc, t.v[i].pc);
	CK_RULE(&t, plain, MS_CFI_RSP, 8, 0, 0);
	CK_RULE(&t, plain + 1, MS_CFI_RSP, 16, 0, 0); /* rbx saved: not followed */
	CK_RULE(&t, plain + 2, MS_CFI_RSP, 8, 0, 0);
	CK_RULE(&t, fp, MS_CFI_RSP, 8, 0, 0);
	CK_RULE(&t, fp + 1, MS_CFI_RSP, 16, 1, -16);
	CK_RULE(&t, fp + 4, MS_CFI_RBP, 16, 1, -16);
	CK_RULE(&t, fp + 11, MS_CFI_RBP, 16, 1, -16); /* after sub $4096 */
	CK_RULE(&t, fp + 12, MS_CFI_RSP, 8, 0, 0);    /* after leave */
	CK_RULE(&t, expr, MS_CFI_NONE, 0, 0, 0);      /* an expression: not followed */
	CK_RULE(&t, none, MS_CFI_NONE, 0, 0, 0);      /* between FDEs */
	CK_RULE(&t, after, MS_CFI_RSP, 8, 0, 0);
	CK_RULE(&t, after + 1, MS_CFI_NONE, 0, 0, 0); /* past the last FDE */
	CK_RULE(&t, sig, MS_CFI_SIGNAL, 160, 1, 120); /* the saved rsp; rip next to it; rbp */
	CK_RULE(&t, sig + 1, MS_CFI_SIGNAL, 160, 1, 120);
	CK_RULE(&t, apart, MS_CFI_NONE, 0, 0, 0); /* rip elsewhere: not followed */
	ck_assert_ptr_null(ms_cfi_find(&t, plain - 1));
	ck_assert_uint_ge(t.unsupported, 1);
	ck_assert_uint_ge(t.nseg, 1);
	ms_cfi_free(&t);
}
END_TEST

/* The load bias from a mapping: this program's own functions and libc's malloc start
 * with CFA rsp+8, found through the mapping that holds them */
static void check_entry(const char *object, uint64_t addr)
{
	struct ms_maps maps = { 0 };
	struct ms_cfi_table t;
	uint64_t bias = 0;
	size_t i;
	int found = 0;

	ck_assert_int_eq(ms_maps_read("/proc", getpid(), &maps), 0);
	for (i = 0; i < maps.n; i++) {
		const struct ms_mapping *m = &maps.v[i];

		if (addr < m->start || addr >= m->end)
			continue;
		read_rows(m->path, &t);
		ck_assert_int_eq(ms_cfi_bias(t.seg, t.nseg, m->start, m->offset, &bias), 0);
		CK_RULE(&t, (uint32_t)(addr - bias), MS_CFI_RSP, 8, 0, 0);
		ck_assert_uint_gt(t.n, 10);
		ms_cfi_free(&t);
		found = 1;
	}
	ck_assert_msg(found, "no mapping of %s holds 0x%llx", object, (unsigned long long)addr);
	ms_maps_free(&maps);
}

START_TEST(entries_through_mappings)
{
	void *libc_malloc = dlsym(RTLD_DEFAULT, "malloc");

	check_entry("this program", (uint64_t)(uintptr_t)&ms_cfi_read);
	check_entry("this program", (uint64_t)(uintptr_t)&ms_cfi_find);
	ck_assert_ptr_nonnull(libc_malloc);
	check_entry("libc", (uint64_t)(uintptr_t)libc_malloc);
}
END_TEST

/* Not an ELF file; an object without .eh_frame_hdr (a relocatable object) */
START_TEST(without_tables)
{
	char path[PATH_MAX], cmd[2 * PATH_MAX];
	struct ms_cfi_table t;
	int fd;

	snprintf(path, sizeof(path), "/tmp/ms-cfi-%d.txt", (int)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "not an ELF file at all\n", 23), 23);
	ck_assert_int_eq(ms_cfi_read(fd, &t), -ENOEXEC);
	close(fd);
	snprintf(cmd, sizeof(cmd), "printf 'int f(void){return 1;}' | cc -x c -c - -o %s", path);
	ck_assert_int_eq(system(cmd), 0);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_eq(ms_cfi_read(fd, &t), -ENOENT);
	ck_assert_uint_eq(t.n, 0);
	close(fd);
	unlink(path);
}
END_TEST

Suite *cfi_suite(void)
{
	Suite *s = suite_create("cfi");
	TCase *tc = tcase_create("core");

	tcase_add_unchecked_fixture(tc, fixture_build, fixture_remove);
	tcase_add_test(tc, fixture_rules);
	tcase_add_test(tc, entries_through_mappings);
	tcase_add_test(tc, without_tables);
	suite_add_tcase(s, tc);
	return s;
}
