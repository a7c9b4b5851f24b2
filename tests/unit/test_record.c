/* test_record.c: --record files read back by --replay, and damaged ones refused */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include "funcs.h"
#include "record.h"
#include "unit.h"

#define EVENTS 10001 /* more than one batch, not a multiple of it */

struct seen {
	unsigned events, comms, losts;
	uint64_t ptr_sum, func_sum;
	pid_t comm_pid;
	uint32_t comm_flags;
	char comm[32];
	uint64_t lost0;
};

static void on_event(const struct ms_event *e, void *ctx)
{
	struct seen *s = ctx;

	/* every function an event names was defined before it */
	ck_assert_ptr_nonnull(ms_funcs_get(e->func));
	ck_assert_uint_eq(e->a.size, e->a.ptr * 3);
	s->ptr_sum += e->a.ptr;
	s->func_sum += e->func;
	s->events++;
}

static void on_comm(pid_t pid, const char *comm, uint32_t flags, void *ctx)
{
	struct seen *s = ctx;

	s->comms++;
	s->comm_pid = pid;
	s->comm_flags = flags;
	snprintf(s->comm, sizeof(s->comm), "%s", comm);
}

static void on_lost(const uint64_t lost[MS_CNT_MAX], void *ctx)
{
	struct seen *s = ctx;

	s->losts++;
	s->lost0 = lost[0];
}

static const struct ms_replay_fns fns = { on_event, on_comm, on_lost };

/* Events 0..EVENTS-1 with ptr i and size 3i: the first half all malloc (id 1), then
 * free (id 2) is defined mid-recording and the second half uses it */
static void make_recording(const char *path)
{
	struct ms_func f = { .name = "malloc", .kind = MS_FN_ALLOC, .allocator = 1 };
	uint64_t lost[MS_CNT_MAX] = { 7 };
	struct ms_recorder *r;
	struct ms_event e;
	unsigned i;

	ms_funcs_reset();
	ck_assert_int_eq(ms_funcs_add(&f), 1);
	r = ms_recorder_open(path);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(ms_recorder_comm(r, 42, "prog", MS_PROC_LISTED), 0);
	for (i = 0; i < EVENTS; i++) {
		if (i == EVENTS / 2) {
			strcpy(f.name, "free");
			f.kind = MS_FN_FREE;
			ck_assert_int_eq(ms_funcs_add(&f), 2);
		}
		memset(&e, 0, sizeof(e));
		e.type = MS_EV_ALLOC;
		e.func = i < EVENTS / 2 ? 1 : 2;
		e.a.ptr = i;
		e.a.size = 3 * i;
		ck_assert_int_eq(ms_recorder_event(r, &e), 0);
	}
	ck_assert_int_eq(ms_recorder_lost(r, lost), 0);
	ck_assert_int_eq(ms_recorder_close(r), 0);
	ms_funcs_reset();
}

static char *temp_path(void)
{
	static char path[32];
	int fd;

	strcpy(path, "/tmp/ms-rec-XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	close(fd);
	return path;
}

START_TEST(round_trip)
{
	char *path = temp_path();
	struct ms_replay_info info;
	struct seen s = { 0 };

	make_recording(path);
	ck_assert_int_eq(ms_replay(path, &fns, &s, &info), 0);
	ck_assert_uint_eq(info.version, MS_RECORD_VERSION);
	ck_assert_uint_gt(info.start_realtime_ns, 0);
	ck_assert_uint_eq(s.events, EVENTS);
	ck_assert_uint_eq(s.ptr_sum, (uint64_t)EVENTS * (EVENTS - 1) / 2);
	ck_assert_uint_eq(s.func_sum, EVENTS / 2 + 2 * (EVENTS - EVENTS / 2));
	ck_assert_uint_eq(s.comms, 1);
	ck_assert_int_eq(s.comm_pid, 42);
	ck_assert_uint_eq(s.comm_flags, MS_PROC_LISTED);
	ck_assert_str_eq(s.comm, "prog");
	ck_assert_uint_eq(s.losts, 1);
	ck_assert_uint_eq(s.lost0, 7);
	ck_assert_str_eq(ms_funcs_get(2)->name, "free");
	ms_funcs_reset();
	unlink(path);
}
END_TEST

/* Copies the uncompressed content of src into dst, cut to len bytes or with one
 * byte changed at flip (when flip < len) */
static void damage(const char *src, const char *dst, size_t len, size_t flip)
{
	static unsigned char buf[1 << 20];
	gzFile in = gzopen(src, "rb"), out;
	int n;

	ck_assert_ptr_nonnull(in);
	n = gzread(in, buf, sizeof(buf));
	gzclose(in);
	ck_assert_int_gt(n, 0);
	if ((size_t)n > len)
		n = len;
	if (flip < (size_t)n)
		buf[flip] ^= 0xff;
	out = gzopen(dst, "wb");
	gzwrite(out, buf, n);
	gzclose(out);
}

START_TEST(damaged_files)
{
	char src[32], *dst;
	struct seen s = { 0 };
	size_t cut;

	strcpy(src, temp_path());
	dst = temp_path();
	make_recording(src);
	ck_assert_int_eq(ms_replay("/nonexistent/x.msr", &fns, &s, NULL), -ENOENT);
	/* not a recording: a wrong magic, an empty file, a text file */
	damage(src, dst, SIZE_MAX, 0);
	ck_assert_int_eq(ms_replay(dst, &fns, &s, NULL), -ENOEXEC);
	damage(src, dst, 0, SIZE_MAX);
	ck_assert_int_eq(ms_replay(dst, &fns, &s, NULL), -ENOEXEC);
	/* another version */
	damage(src, dst, SIZE_MAX, 8);
	ck_assert_int_eq(ms_replay(dst, &fns, &s, NULL), -ENOEXEC);
	/* cut anywhere after the header: corrupt, never a crash */
	for (cut = 160; cut < 200000; cut = cut * 3 / 2 + 1) {
		memset(&s, 0, sizeof(s));
		ms_funcs_reset();
		damage(src, dst, cut, SIZE_MAX);
		ck_assert_int_eq(ms_replay(dst, &fns, &s, NULL), -EBADMSG);
	}
	/* a frame tag or length changed */
	ms_funcs_reset();
	damage(src, dst, SIZE_MAX, 160);
	ck_assert_int_eq(ms_replay(dst, &fns, &s, NULL), -EBADMSG);
	ms_funcs_reset();
	damage(src, dst, SIZE_MAX, 167);
	ck_assert_int_eq(ms_replay(dst, &fns, &s, NULL), -EBADMSG);
	ms_funcs_reset();
	unlink(src);
	unlink(dst);
}
END_TEST

Suite *record_suite(void)
{
	Suite *s = suite_create("record");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, round_trip);
	tcase_add_test(tc, damaged_files);
	suite_add_tcase(s, tc);
	return s;
}
