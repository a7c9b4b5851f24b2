/* test_placement.c: probe placement on hand-assembled x86-64 entry paths */
#include <string.h>
#include "placement.h"
#include "unit.h"

static struct ms_placement place(const uint8_t *code, size_t len, unsigned protect)
{
	struct ms_placement pl;

	ms_place_probe(code, len, protect, &pl);
	return pl;
}

START_TEST(glibc_free)
{
	/* test %rdi,%rdi; je +0xbf; push %rbp; ... ret */
	static const uint8_t code[] = { 0x48, 0x85, 0xff, 0x0f, 0x84, 0xbf,
					0x00, 0x00, 0x00, 0x55, 0x5d, 0xc3 };
	struct ms_placement pl = place(code, sizeof(code), MS_PROTECT_ARG(0));

	ck_assert_uint_eq(pl.off, 3);
	ck_assert_uint_eq(pl.crossed, 1);
	ck_assert_ptr_null(pl.why);
	ck_assert_str_eq(pl.insn, "je 0xc8");
}
END_TEST

START_TEST(push_first)
{
	/* push %r12; push %rbp: the entry is already emulated */
	static const uint8_t code[] = { 0x41, 0x54, 0x55, 0xc3 };
	struct ms_placement pl = place(code, sizeof(code), MS_PROTECT_ARG(0));

	ck_assert_uint_eq(pl.off, 0);
	ck_assert_ptr_null(pl.why);
	ck_assert_str_eq(pl.insn, "push r12");
}
END_TEST

START_TEST(rip_relative_compare)
{
	/* cmpb $0x0,0x140201(%rip); push %r12: posix_memalign, aligned_alloc, valloc */
	static const uint8_t code[] = { 0x80, 0x3d, 0x01, 0x02, 0x14, 0x00, 0x00, 0x41, 0x54, 0xc3 };
	struct ms_placement pl = place(code, sizeof(code), MS_PROTECT_ARG(0) | MS_PROTECT_ARG(2));

	ck_assert_uint_eq(pl.off, 7);
	ck_assert_str_eq(pl.insn, "push r12");
}
END_TEST

START_TEST(argument_overwritten)
{
	/* glibc reallocarray: mov %rsi,%rax; mul %rdx; mov %rax,%rsi; jo: rdx and rsi change */
	static const uint8_t code[] = { 0x48, 0x89, 0xf0, 0x48, 0xf7, 0xe2,
					0x48, 0x89, 0xc6, 0x70, 0x05, 0xc3 };
	struct ms_placement pl;

	pl = place(code, sizeof(code), MS_PROTECT_ARG(0) | MS_PROTECT_ARG(1) | MS_PROTECT_ARG(2));
	ck_assert_uint_eq(pl.off, 0);
	ck_assert_str_eq(pl.why, "an argument register changes first");
	/* a 32-bit write to a protected register counts too: xor %edi,%edi; push %rbp */
	static const uint8_t sub32[] = { 0x31, 0xff, 0x55, 0xc3 };
	pl = place(sub32, sizeof(sub32), MS_PROTECT_ARG(0));
	ck_assert_uint_eq(pl.off, 0);
	/* an unprotected register may change: mov %rdi,%rbx; push %rbp */
	static const uint8_t other[] = { 0x48, 0x89, 0xfb, 0x55, 0xc3 };
	pl = place(other, sizeof(other), MS_PROTECT_ARG(0));
	ck_assert_uint_eq(pl.off, 3);
}
END_TEST

START_TEST(stack_pointer_changes)
{
	/* sub $0x18,%rsp; push %rbp */
	static const uint8_t code[] = { 0x48, 0x83, 0xec, 0x18, 0x55, 0xc3 };
	struct ms_placement pl = place(code, sizeof(code), 0);

	ck_assert_uint_eq(pl.off, 0);
	ck_assert_str_eq(pl.why, "the stack pointer changes first");
}
END_TEST

START_TEST(branch_into_path)
{
	/* test %rdi,%rdi; push %rbp; jmp back to the push: the probe would fire twice */
	static const uint8_t code[] = { 0x48, 0x85, 0xff, 0x55, 0xeb, 0xfd, 0xc3 };
	struct ms_placement pl = place(code, sizeof(code), MS_PROTECT_ARG(0));

	ck_assert_uint_eq(pl.off, 0);
	ck_assert_str_eq(pl.why, "a branch inside the function leads into the entry path");
}
END_TEST

START_TEST(nothing_emulated)
{
	/* mov %rdi,%rax; ret: a return before any emulated instruction */
	static const uint8_t ret[] = { 0x48, 0x89, 0xf8, 0xc3 };
	/* an indirect jump */
	static const uint8_t ind[] = { 0xff, 0xe0 };
	/* bytes that do not decode */
	static const uint8_t bad[] = { 0x0f, 0x0b, 0x06 };
	struct ms_placement pl;

	pl = place(ret, sizeof(ret), MS_PROTECT_ARG(0));
	ck_assert_uint_eq(pl.off, 0);
	ck_assert_ptr_nonnull(pl.why);
	pl = place(ind, sizeof(ind), 0);
	ck_assert_uint_eq(pl.off, 0);
	ck_assert_ptr_nonnull(pl.why);
	pl = place(bad, sizeof(bad), 0);
	ck_assert_uint_eq(pl.off, 0);
	ck_assert_ptr_nonnull(pl.why);
	pl = place(bad, 0, 0);
	ck_assert_uint_eq(pl.off, 0);
}
END_TEST

Suite *placement_suite(void)
{
	Suite *s = suite_create("placement");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, glibc_free);
	tcase_add_test(tc, push_first);
	tcase_add_test(tc, rip_relative_compare);
	tcase_add_test(tc, argument_overwritten);
	tcase_add_test(tc, stack_pointer_changes);
	tcase_add_test(tc, branch_into_path);
	tcase_add_test(tc, nothing_emulated);
	suite_add_tcase(s, tc);
	return s;
}
