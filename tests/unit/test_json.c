/* test_json.c: the JSON writer, escaping hostile strings */
#include <stdlib.h>
#include <string.h>
#include "json.h"
#include "unit.h"

static char *render(void (*fn)(struct ms_json *j))
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct ms_json j;

	ms_json_init(&j, f);
	fn(&j);
	fclose(f);
	return buf;
}

static void nested(struct ms_json *j)
{
	ms_json_open(j, NULL);
	ms_json_str(j, "type", "interval");
	ms_json_u64(j, "n", 18446744073709551615ULL);
	ms_json_i64(j, "pid", -1);
	ms_json_double(j, "ts", 1.5);
	ms_json_bool(j, "ok", true);
	ms_json_array(j, "a");
	ms_json_open(j, NULL);
	ms_json_close(j);
	ms_json_u64(j, NULL, 7);
	ms_json_end(j);
	ms_json_open(j, "empty");
	ms_json_close(j);
	ms_json_close(j);
	ms_json_line(j);
}

START_TEST(structure)
{
	char *s = render(nested);

	ck_assert_str_eq(s, "{\"type\":\"interval\",\"n\":18446744073709551615,\"pid\":-1,"
			    "\"ts\":1.5,\"ok\":true,\"a\":[{},7],\"empty\":{}}\n");
	free(s);
}
END_TEST

static void hostile(struct ms_json *j)
{
	/* a process may call itself anything: quotes, escapes, control bytes, bad UTF-8 */
	ms_json_strn(j, NULL, "a\"b\\c\n\t\x01\x7f\xff\xc3\xa9\xe2\x82\xac\xed\xa0\x80\xc3", 19);
}

START_TEST(escaping)
{
	char *s = render(hostile);

	ck_assert_str_eq(s, "\"a\\\"b\\\\c\\n\\t\\u0001\\u007f\\u00ff\xc3\xa9\xe2\x82\xac"
			    "\\u00ed\\u00a0\\u0080\\u00c3\"");
	free(s);
}
END_TEST

static void nonfinite(struct ms_json *j)
{
	ms_json_array(j, NULL);
	ms_json_double(j, NULL, 1.0 / 0.0);
	ms_json_double(j, NULL, 0.0 / 0.0);
	ms_json_end(j);
}

START_TEST(not_finite)
{
	char *s = render(nonfinite);

	ck_assert_str_eq(s, "[null,null]");
	free(s);
}
END_TEST

Suite *json_suite(void)
{
	Suite *s = suite_create("json");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, structure);
	tcase_add_test(tc, escaping);
	tcase_add_test(tc, not_finite);
	suite_add_tcase(s, tc);
	return s;
}
