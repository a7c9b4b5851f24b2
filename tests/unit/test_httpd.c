/* test_httpd.c: the HTTP server's paths and published buffers (its bounds: test_prom.c) */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "httpd.h"
#include "unit.h"

static char *copy_of(struct ms_httpd *h, int id)
{
	size_t len = 99;
	char *t = ms_httpd_copy(h, id, &len);

	ck_assert_ptr_nonnull(t);
	ck_assert_uint_eq(strlen(t), len);
	return t;
}

/* Without a listener: the buffers only */
START_TEST(buffers)
{
	struct ms_httpd *h = ms_httpd_new(NULL, 0);
	int a, b, i;
	char *t;

	ck_assert_ptr_nonnull(h);
	a = ms_httpd_add_path(h, "/a", "text/a", "a is at /a");
	b = ms_httpd_add_path(h, "/b", "text/b", "b is at /b");
	ck_assert_int_ne(a, b);
	t = copy_of(h, a);
	ck_assert_str_eq(t, ""); /* nothing published yet */
	free(t);
	ms_httpd_publish(h, a, strdup("first"), 5);
	ms_httpd_publish(h, a, strdup("second"), 6);
	t = copy_of(h, a);
	ck_assert_str_eq(t, "second");
	free(t);
	t = copy_of(h, b);
	ck_assert_str_eq(t, "");
	free(t);
	ck_assert_str_eq(ms_httpd_url(h), "");
	for (i = 2; i < MS_HTTPD_MAX_PATHS; i++)
		ck_assert_int_ge(ms_httpd_add_path(h, "/more", "text/plain", "more"), 0);
	ck_assert_int_eq(ms_httpd_add_path(h, "/more", "text/plain", "more"), -ENOSPC);
	ms_httpd_free(h);
	ms_httpd_free(NULL);
}
END_TEST

/* One request with "Connection: close" on a fresh connection: the whole response */
static char *request(unsigned port, const char *method, const char *path)
{
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons(port) };
	char *resp = NULL;
	size_t cap = 0;
	FILE *f;
	int fd;

	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&in, sizeof(in)), 0);
	f = fdopen(fd, "r+");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", method, path);
	fflush(f);
	ck_assert_int_gt(getdelim(&resp, &cap, '\0', f), 0);
	fclose(f);
	return resp;
}

/* The body of response r, after checking its status and content type */
static const char *body_of(const char *r, unsigned status, const char *type)
{
	char want[128];

	snprintf(want, sizeof(want), "HTTP/1.1 %u ", status);
	ck_assert_msg(!strncmp(r, want, strlen(want)), "%.80s", r);
	snprintf(want, sizeof(want), "\r\nContent-Type: %s\r\n", type);
	ck_assert_msg(strstr(r, want) != NULL, "%s not in %.200s", want, r);
	ck_assert_ptr_nonnull(strstr(r, "\r\n\r\n"));
	return strstr(r, "\r\n\r\n") + 4;
}

/* Each path with its buffer and content type; the errors name every path */
START_TEST(paths_served)
{
	struct ms_httpd_limits lim = { .connections = 4 };
	struct ms_httpd *h = ms_httpd_new(&lim, 0);
	unsigned port = 0;
	int a, b;
	char *r;

	ck_assert_ptr_nonnull(h);
	a = ms_httpd_add_path(h, "/metrics", "text/a", "the metrics are at /metrics");
	b = ms_httpd_add_path(h, "/debug/b", "application/b", "b is at /debug/b");
	ms_httpd_publish(h, a, strdup("metrics text\n"), 13);
	ck_assert_int_eq(ms_httpd_start(h, "127.0.0.1:0"), 0);
	ck_assert_int_eq(ms_httpd_add_path(h, "/late", "text/plain", "late"), -EBUSY);
	ck_assert_int_eq(ms_httpd_start(h, "127.0.0.1:0"), -EBUSY);
	ck_assert_int_eq(sscanf(ms_httpd_url(h), "http://127.0.0.1:%u", &port), 1);
	ck_assert_uint_ne(port, 0);

	r = request(port, "GET", "/metrics");
	ck_assert_str_eq(body_of(r, 200, "text/a"), "metrics text\n");
	free(r);
	r = request(port, "GET", "/debug/b");
	ck_assert_str_eq(body_of(r, 200, "application/b"), "");
	free(r);
	ms_httpd_publish(h, b, strdup("\x01\x02"), 2);
	r = request(port, "GET", "/debug/b?x=1");
	ck_assert_str_eq(body_of(r, 200, "application/b"), "\x01\x02");
	free(r);
	r = request(port, "GET", "/debug");
	ck_assert_str_eq(body_of(r, 404, "text/plain; charset=utf-8"),
			 "not found: the metrics are at /metrics; b is at /debug/b\n");
	free(r);
	r = request(port, "PUT", "/debug/b");
	ck_assert_str_eq(body_of(r, 405, "text/plain; charset=utf-8"),
			 "only GET and HEAD /metrics, /debug/b\n");
	ck_assert_ptr_nonnull(strstr(r, "\r\nAllow: GET, HEAD\r\n"));
	free(r);
	ms_httpd_free(h);
}
END_TEST

START_TEST(bad_address)
{
	struct ms_httpd *h = ms_httpd_new(NULL, 0);
	struct sockaddr_storage sa;
	socklen_t len;
	char err[256];

	ck_assert_int_eq(ms_httpd_parse_addr("x:1", "--serve", &sa, &len, err, sizeof(err)),
			 -EINVAL);
	ck_assert_msg(!strncmp(err, "invalid --serve 'x:1': ADDR:PORT", 32), "%s", err);
	ck_assert_int_eq(ms_httpd_start(h, "1.2.3:4"), -EINVAL);
	ck_assert_str_eq(ms_httpd_url(h), "");
	ms_httpd_free(h);
}
END_TEST

Suite *httpd_suite(void)
{
	Suite *s = suite_create("httpd");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, buffers);
	tcase_add_test(tc, paths_served);
	tcase_add_test(tc, bad_address);
	suite_add_tcase(s, tc);
	return s;
}
