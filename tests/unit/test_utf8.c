/* test_utf8.c: UTF-8 validation and the repair of names for printing */
#include <string.h>
#include "unit.h"
#include "utf8.h"

/* Well-formed sequences and what is not (Unicode's table 3-7) */
START_TEST(lengths)
{
	static const struct {
		const char *s;
		size_t n, len;
	} t[] = {
		{ "a", 1, 1 },
		{ "\x01", 1, 1 },
		{ "\xc3\xa9", 2, 2 },
		{ "\xe2\x82\xac", 3, 3 },
		{ "\xed\x9f\xbf", 3, 3 },
		{ "\xee\x80\x80", 3, 3 },
		{ "\xf0\x9f\x98\x80", 4, 4 },
		{ "\xf4\x8f\xbf\xbf", 4, 4 }, /* U+10FFFF */
		{ "\x80", 1, 0 },	      /* a stray continuation byte */
		{ "\xc0\x80", 2, 0 },	      /* overlong */
		{ "\xc1\xbf", 2, 0 },
		{ "\xe0\x9f\xbf", 3, 0 },
		{ "\xf0\x8f\xbf\xbf", 4, 0 },
		{ "\xed\xa0\x80", 3, 0 }, /* a UTF-16 surrogate */
		{ "\xf4\x90\x80\x80", 4, 0 },
		{ "\xf5\x80\x80\x80", 4, 0 },
		{ "\xff", 1, 0 },
		{ "\xc3\x28", 2, 0 },
		{ "\xc3\xa9", 1, 0 }, /* cut short */
		{ "\xe2\x82\xac", 2, 0 },
		{ "\xf0\x9f\x98\x80", 3, 0 },
	};
	unsigned i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		ck_assert_msg(ms_utf8_len((const unsigned char *)t[i].s, t[i].n) == t[i].len,
			      "case %u: %zu, not %zu", i,
			      ms_utf8_len((const unsigned char *)t[i].s, t[i].n), t[i].len);
}
END_TEST

START_TEST(clean)
{
	static const struct {
		const char *in;
		unsigned flags;
		const char *out;
	} t[] = {
		{ "plain", 0, "plain" },
		{ "a\nb\tc\x7f", MS_UTF8_REPAIR | MS_UTF8_KEEP_NL, "a\nb?c?" },
		{ "a\nb\tc\x7f", 0, "a?b?c?" },
		{ "bad\xff\xc3", MS_UTF8_REPAIR, "bad\xef\xbf\xbd\xef\xbf\xbd" },
		{ "bad\xff\xc3", 0, "bad\xff\xc3" }, /* copied as it is */
		{ "\xe2\x82\xac\xc3\xa9", MS_UTF8_REPAIR, "\xe2\x82\xac\xc3\xa9" },
		{ "\xed\xa0\x80", MS_UTF8_REPAIR, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
		{ "", MS_UTF8_REPAIR, "" },
	};
	char out[64];
	unsigned i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		size_t n = ms_utf8_clean(t[i].in, out, sizeof(out), t[i].flags);

		ck_assert_msg(!strcmp(out, t[i].out), "case %u: '%s'", i, out);
		ck_assert_uint_eq(n, strlen(out));
	}
}
END_TEST

/* What does not fit whole is left out; the output is always terminated */
START_TEST(bounded)
{
	char out[8];

	ck_assert_uint_eq(ms_utf8_clean("ab\xe2\x82\xac", out, 5, 0), 2);
	ck_assert_str_eq(out, "ab");
	ck_assert_uint_eq(ms_utf8_clean("ab\xe2\x82\xac", out, 6, 0), 5);
	ck_assert_str_eq(out, "ab\xe2\x82\xac");
	ck_assert_uint_eq(ms_utf8_clean("a\xff", out, 4, MS_UTF8_REPAIR), 1);
	ck_assert_str_eq(out, "a");
	ck_assert_uint_eq(ms_utf8_clean("abc", out, 1, 0), 0);
	ck_assert_str_eq(out, "");
	/* 3 * strlen + 1 holds any input repaired */
	ck_assert_uint_eq(ms_utf8_clean("\xff\xfe", out, 7, MS_UTF8_REPAIR), 6);
}
END_TEST

Suite *utf8_suite(void)
{
	Suite *s = suite_create("utf8");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, lengths);
	tcase_add_test(tc, clean);
	tcase_add_test(tc, bounded);
	suite_add_tcase(s, tc);
	return s;
}
