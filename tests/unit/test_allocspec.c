/* test_allocspec.c: --alloc/--free/--realloc specs, good and bad */
#include <string.h>
#include "allocspec.h"
#include "unit.h"

static struct ms_allocspec parse_ok(const char *text, enum ms_fn_kind kind)
{
	struct ms_allocspec s;
	char err[256] = "";

	ck_assert_msg(ms_allocspec_parse(text, kind, &s, err, sizeof(err)) == 0, "'%s': %s", text,
		      err);
	return s;
}

START_TEST(good_specs)
{
	struct ms_allocspec s;

	s = parse_ok("obj_pool_alloc(_, size)", MS_FN_ALLOC);
	ck_assert_str_eq(s.function, "obj_pool_alloc");
	ck_assert_str_eq(s.allocator, "custom");
	ck_assert_str_eq(s.object, "");
	ck_assert_uint_eq(s.size_arg, 1);
	ck_assert_uint_eq(s.nmemb_arg, MS_ARG_NONE);
	ck_assert_uint_eq(s.fixed_size, 0);

	s = parse_ok("slab_get(_)=64", MS_FN_ALLOC);
	ck_assert_uint_eq(s.size_arg, MS_ARG_NONE);
	ck_assert_uint_eq(s.fixed_size, 64);

	s = parse_ok(" my_calloc ( nmemb , size ) ", MS_FN_ALLOC);
	ck_assert_str_eq(s.function, "my_calloc");
	ck_assert_uint_eq(s.nmemb_arg, 0);
	ck_assert_uint_eq(s.size_arg, 1);

	s = parse_ok("my_memalign(out, _, size)", MS_FN_ALLOC);
	ck_assert_uint_eq(s.out_arg, 0);
	ck_assert_uint_eq(s.size_arg, 2);

	s = parse_ok("objpool=obj_pool_free(_, ptr)", MS_FN_FREE);
	ck_assert_str_eq(s.allocator, "objpool");
	ck_assert_uint_eq(s.ptr_arg, 1);

	s = parse_ok("my_realloc(ptr, size)", MS_FN_REALLOC);
	ck_assert_uint_eq(s.ptr_arg, 0);
	ck_assert_uint_eq(s.size_arg, 1);

	s = parse_ok("pool=/opt/app/libpool.so:pool_get(size)", MS_FN_ALLOC);
	ck_assert_str_eq(s.allocator, "pool");
	ck_assert_str_eq(s.object, "/opt/app/libpool.so");
	ck_assert_str_eq(s.function, "pool_get");

	s = parse_ok("Arena::Allocate(_, size)", MS_FN_ALLOC);
	ck_assert_str_eq(s.function, "Arena::Allocate");
	ck_assert_str_eq(s.object, "");
	ck_assert(ms_allocspec_demangled(&s));

	s = parse_ok("/usr/lib/libx.so:ns::Pool<int>::get(_, size)", MS_FN_ALLOC);
	ck_assert_str_eq(s.object, "/usr/lib/libx.so");
	ck_assert_str_eq(s.function, "ns::Pool<int>::get");

	s = parse_ok("f(_, _, _, _, _, size)", MS_FN_ALLOC);
	ck_assert_uint_eq(s.size_arg, 5);
	ck_assert(!ms_allocspec_demangled(&s));
}
END_TEST

START_TEST(bad_specs)
{
	static const struct {
		const char *text;
		enum ms_fn_kind kind;
		const char *says;
	} bad[] = {
		{ "obj_pool_alloc", MS_FN_ALLOC, "no parameter list" },
		{ "f(size", MS_FN_ALLOC, "not closed" },
		{ "f(_, sise)", MS_FN_ALLOC, "unknown role 'sise' for parameter 2" },
		{ "f(size, size)", MS_FN_ALLOC, "given twice" },
		{ "f(_, _, _, _, _, _, size)", MS_FN_ALLOC, "more than 6 parameters" },
		{ "f(_)", MS_FN_ALLOC, "no 'size' parameter" },
		{ "f(size)=64", MS_FN_ALLOC, "both a 'size' parameter and a fixed size" },
		{ "f(_)=0", MS_FN_ALLOC, "fixed block size" },
		{ "f(_)=-4", MS_FN_ALLOC, "fixed block size" },
		{ "f(_)=64k", MS_FN_ALLOC, "fixed block size" },
		{ "f(nmemb)", MS_FN_ALLOC, "no 'size'" },
		{ "f(ptr, size)", MS_FN_ALLOC, "takes no 'ptr'" },
		{ "f(_)", MS_FN_FREE, "no 'ptr' parameter" },
		{ "f(ptr, size)", MS_FN_FREE, "only 'ptr' and '_'" },
		{ "f(ptr)", MS_FN_REALLOC, "needs 'ptr' and 'size'" },
		{ "lib/x.so:f(size)", MS_FN_ALLOC, "absolute path" },
		{ "=f(size)", MS_FN_ALLOC, "allocator name" },
		{ "a b=f(size)", MS_FN_ALLOC, "allocator name" },
		{ "f(size) junk", MS_FN_ALLOC, "unexpected 'junk'" },
		{ "(size)", MS_FN_ALLOC, "no function name" },
		{ "f()", MS_FN_ALLOC, "empty parameter list" },
		{ "f(size,)", MS_FN_ALLOC, "missing after the last ','" },
		{ "f(, size)", MS_FN_ALLOC, "parameter 1 is empty" },
	};
	struct ms_allocspec s;
	char err[256];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ck_assert_msg(ms_allocspec_parse(bad[i].text, bad[i].kind, &s, err, sizeof(err)) ==
				      -22,
			      "accepted '%s'", bad[i].text);
		ck_assert_msg(strstr(err, bad[i].says), "'%s': said '%s', not '%s'", bad[i].text,
			      err, bad[i].says);
		/* the message quotes the spec and names the option */
		ck_assert_msg(strstr(err, bad[i].text), "'%s' not quoted in '%s'", bad[i].text,
			      err);
	}
}
END_TEST

Suite *allocspec_suite(void)
{
	Suite *s = suite_create("allocspec");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, good_specs);
	tcase_add_test(tc, bad_specs);
	suite_add_tcase(s, tc);
	return s;
}
