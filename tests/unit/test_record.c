/* test_record.c: --record files read back by --replay, and damaged ones refused */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include "catalog.h"
#include "numa.h"
#include "presets.h"
#include "record.h"
#include "unit.h"

#define EVENTS 10001 /* more than one batch, not a multiple of it */

struct seen {
	struct ms_catalog *cat; /* the replay's */
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
	ck_assert_ptr_nonnull(ms_catalog_func(s->cat, e->func));
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

static const struct ms_replay_fns fns = { .event = on_event, .comm = on_comm, .lost = on_lost };

/* Events 0..EVENTS-1 with ptr i and size 3i: the first half all malloc's (id 1), then
 * free (id 2) is defined mid-recording and the second half are its records */
static void make_recording(const char *path)
{
	struct ms_func f = { .name = "malloc", .kind = MS_FN_ALLOC, .allocator = 1 };
	uint64_t lost[MS_CNT_MAX] = { 7 };
	struct ms_catalog *cat = ms_catalog_new();
	struct ms_recorder *r;
	struct ms_event e;
	unsigned i;

	ck_assert_ptr_nonnull(cat);
	ck_assert_int_eq(ms_catalog_add_func(cat, &f), 1);
	r = ms_recorder_open(path, cat, 0);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(ms_recorder_comm(r, 42, "prog", MS_PROC_LISTED), 0);
	for (i = 0; i < EVENTS; i++) {
		if (i == EVENTS / 2) {
			strcpy(f.name, "free");
			f.kind = MS_FN_FREE;
			ck_assert_int_eq(ms_catalog_add_func(cat, &f), 2);
		}
		memset(&e, 0, sizeof(e));
		e.type = i < EVENTS / 2 ? MS_EV_ALLOC : MS_EV_FREE;
		e.func = i < EVENTS / 2 ? 1 : 2;
		e.a.ptr = i;
		e.a.size = 3 * i;
		ck_assert_int_eq(ms_recorder_event(r, &e), 0);
	}
	ck_assert_int_eq(ms_recorder_lost(r, lost), 0);
	ck_assert_int_eq(ms_recorder_close(r), 0);
	ms_catalog_free(cat);
}

/* Replays path into s, with a new catalog (s->cat, for the caller to free) */
static int replay_seen(const char *path, struct seen *s, struct ms_replay_info *info)
{
	s->cat = ms_catalog_new();
	ck_assert_ptr_nonnull(s->cat);
	return ms_replay(path, s->cat, &fns, s, info);
}

/* Replays path with a catalog of its own, freed after */
static int replay_fresh(const char *path, const struct ms_replay_fns *f, void *ctx,
			struct ms_replay_info *info)
{
	struct ms_catalog *cat = ms_catalog_new();
	int err;

	ck_assert_ptr_nonnull(cat);
	err = ms_replay(path, cat, f, ctx, info);
	ms_catalog_free(cat);
	return err;
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
	ck_assert_int_eq(replay_seen(path, &s, &info), 0);
	ck_assert_str_ne(info.host, "");
	ck_assert_uint_eq(s.events, EVENTS);
	ck_assert_uint_eq(s.ptr_sum, (uint64_t)EVENTS * (EVENTS - 1) / 2);
	ck_assert_uint_eq(s.func_sum, EVENTS / 2 + 2 * (EVENTS - EVENTS / 2));
	ck_assert_uint_eq(s.comms, 1);
	ck_assert_int_eq(s.comm_pid, 42);
	ck_assert_uint_eq(s.comm_flags, MS_PROC_LISTED);
	ck_assert_str_eq(s.comm, "prog");
	ck_assert_uint_eq(s.losts, 1);
	ck_assert_uint_eq(s.lost0, 7);
	ck_assert_str_eq(ms_catalog_func(s.cat, 2)->name, "free");
	ck_assert_uint_eq(ms_catalog_nfuncs(s.cat), 2);
	ms_catalog_free(s.cat);
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
	ck_assert_int_eq(replay_fresh("/nonexistent/x.msr", &fns, &s, NULL), -ENOENT);
	/* not a recording: a wrong magic, an empty file, a text file */
	damage(src, dst, SIZE_MAX, 0);
	ck_assert_int_eq(replay_fresh(dst, &fns, &s, NULL), -ENOEXEC);
	damage(src, dst, 0, SIZE_MAX);
	ck_assert_int_eq(replay_fresh(dst, &fns, &s, NULL), -ENOEXEC);
	/* another version */
	damage(src, dst, SIZE_MAX, 8);
	ck_assert_int_eq(replay_fresh(dst, &fns, &s, NULL), -ENOEXEC);
	/* cut anywhere after the header: corrupt, never a crash */
	for (cut = 160; cut < 200000; cut = cut * 3 / 2 + 1) {
		memset(&s, 0, sizeof(s));
		damage(src, dst, cut, SIZE_MAX);
		ck_assert_int_eq(replay_seen(dst, &s, NULL), -EBADMSG);
		ms_catalog_free(s.cat);
	}
	/* a frame tag or length changed */
	damage(src, dst, SIZE_MAX, 160);
	ck_assert_int_eq(replay_seen(dst, &s, NULL), -EBADMSG);
	ms_catalog_free(s.cat);
	damage(src, dst, SIZE_MAX, 167);
	ck_assert_int_eq(replay_seen(dst, &s, NULL), -EBADMSG);
	ms_catalog_free(s.cat);
	unlink(src);
	unlink(dst);
}
END_TEST

static void count_event(const struct ms_event *e, void *ctx)
{
	(*(unsigned *)ctx)++;
}

static const struct ms_replay_fns count_fns = { .event = count_event };

static struct ms_event rec_event(uint8_t type, uint16_t func, uint64_t ptr)
{
	struct ms_event e;

	memset(&e, 0, sizeof(e));
	e.type = type;
	e.func = func;
	e.tgid = e.tid = 7;
	e.a.ptr = ptr;
	e.stack_id = -1;
	return e;
}

/*
 * Writes a recording of malloc (1), free (2) and realloc (3) holding a good record, e,
 * and another good one, and replays it: returns what ms_replay did, the records handed
 * back in *n and what it said was wrong in info
 */
static int replay_one(const struct ms_event *e, unsigned *n, struct ms_replay_info *info)
{
	static const char *const names[] = { "malloc", "free", "realloc" };
	struct ms_event good = rec_event(MS_EV_ALLOC, 1, 0x1000);
	struct ms_catalog *cat = ms_catalog_new();
	char *path = temp_path();
	struct ms_recorder *r;
	unsigned i;
	int err;

	ck_assert_ptr_nonnull(cat);
	for (i = 0; i < 3; i++) {
		struct ms_func f = { .kind = MS_FN_ALLOC + i, .allocator = 1 };

		strcpy(f.name, names[i]);
		ck_assert_int_eq(ms_catalog_add_func(cat, &f), i + 1);
	}
	r = ms_recorder_open(path, cat, 0);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(ms_recorder_event(r, &good), 0);
	ck_assert_int_eq(ms_recorder_event(r, e), 0);
	ck_assert_int_eq(ms_recorder_event(r, &good), 0);
	ck_assert_int_eq(ms_recorder_close(r), 0);
	ms_catalog_free(cat);
	*n = 0;
	memset(info, 0, sizeof(*info));
	err = replay_fresh(path, &count_fns, n, info);
	unlink(path);
	return err;
}

struct sites_seen {
	unsigned n, nframes;
	pid_t pid;
	int32_t stack_id;
	uint64_t caller;
	bool truncated;
	char frames[4][MS_RECORD_FRAME_LEN];
};

static void on_site(pid_t pid, int32_t stack_id, uint64_t caller, bool truncated,
		    const char (*frames)[MS_RECORD_FRAME_LEN], unsigned n, void *ctx)
{
	struct sites_seen *s = ctx;
	unsigned i;

	s->n++;
	s->pid = pid;
	s->stack_id = stack_id;
	s->caller = caller;
	s->truncated = truncated;
	s->nframes = n;
	for (i = 0; i < n && i < 4; i++)
		memcpy(s->frames[i], frames[i], MS_RECORD_FRAME_LEN);
}

static void no_event(const struct ms_event *e, void *ctx)
{
}

/* A recording made with MS_RECORD_STACKS (flags) and one site of frames, replayed */
static int sites_replay(uint32_t flags, const char (*frames)[MS_RECORD_FRAME_LEN], unsigned n,
			struct sites_seen *seen, struct ms_replay_info *info)
{
	static const struct ms_replay_fns f = { .event = no_event, .site = on_site };
	struct ms_func fn = { .name = "malloc", .kind = MS_FN_ALLOC, .allocator = 1 };
	struct ms_event e = rec_event(MS_EV_ALLOC, 1, 0x1000);
	struct ms_catalog *cat = ms_catalog_new();
	char *path = temp_path();
	struct ms_recorder *r;
	int err;

	ck_assert_int_eq(ms_catalog_add_func(cat, &fn), 1);
	r = ms_recorder_open(path, cat, flags);
	ck_assert_ptr_nonnull(r);
	e.stack_id = 5;
	ck_assert_int_eq(ms_recorder_event(r, &e), 0);
	ck_assert_int_eq(ms_recorder_site(r, 7, 5, 0x401234, true, frames, n), 0);
	ck_assert_int_eq(ms_recorder_close(r), 0);
	ms_catalog_free(cat);
	memset(seen, 0, sizeof(*seen));
	err = replay_fresh(path, &f, seen, info);
	unlink(path);
	return err;
}

/* A site's frames come back as written, after its record, with the recording's flag;
 * a site in a recording without stacks, or a header flag no tracer writes, is refused */
START_TEST(sites_round_trip)
{
	char frames[3][MS_RECORD_FRAME_LEN];
	struct ms_replay_info info;
	struct sites_seen seen;

	strcpy(frames[0], "alloc_node (app.c:35)");
	memset(frames[1], 'x', sizeof(frames[1])); /* not terminated: cut to 127 bytes */
	strcpy(frames[2], "_start+0x21");
	ck_assert_int_eq(sites_replay(MS_RECORD_STACKS, frames, 3, &seen, &info), 0);
	ck_assert_uint_eq(info.flags, MS_RECORD_STACKS);
	ck_assert_uint_eq(seen.n, 1);
	ck_assert_int_eq(seen.pid, 7);
	ck_assert_int_eq(seen.stack_id, 5);
	ck_assert_uint_eq(seen.caller, 0x401234);
	ck_assert(seen.truncated);
	ck_assert_uint_eq(seen.nframes, 3);
	ck_assert_str_eq(seen.frames[0], "alloc_node (app.c:35)");
	ck_assert_uint_eq(strlen(seen.frames[1]), MS_RECORD_FRAME_LEN - 1);
	ck_assert_str_eq(seen.frames[2], "_start+0x21");
	ck_assert_int_eq(sites_replay(0, frames, 3, &seen, &info), -EBADMSG);
	ck_assert_uint_eq(seen.n, 0);
	ck_assert_ptr_nonnull(strstr(info.damage, "a site of"));
	ck_assert_int_eq(sites_replay(0x80, frames, 3, &seen, &info), -ENOEXEC);
}
END_TEST

/* Every field of every record is checked against the recording's own tables: a record
 * no tracer writes (an id it never defined, an unknown type or flag, a node past
 * MS_MAX_NODES) ends the replay as corrupt, before it is handed on */
START_TEST(bad_records_refused)
{
	struct {
		struct ms_event e;
		const char *why; /* in info.damage */
	} bad[] = {
		{ rec_event(MS_EV_ALLOC, 4, 0x2000), "function 4" },
		{ rec_event(MS_EV_ALLOC, 65535, 0x2000), "function 65535" },
		{ rec_event(MS_EV_ALLOC, 0, 0x2000), "function 0" },
		{ rec_event(MS_EV_FREE, 1, 0x2000), "function 1" },	     /* malloc's kind */
		{ rec_event(MS_EV_REALLOC, 2, 0x2000), "function 2" },	     /* free's */
		{ rec_event(MS_EV_REALLOC_ENTER, 1, 0x2000), "function 1" }, /* malloc's */
		{ rec_event(MS_EV_FREE, 2, 0), "address 0" },
		{ rec_event(MS_EV_REALLOC_ENTER, 3, 0), "address 0" },
		{ rec_event(0, 1, 0x2000), "type 0" },
		{ rec_event(MS_EV_TYPE_MAX, 0, 0), "type" },
		{ rec_event(200, 1, 0x2000), "type 200" },
		{ rec_event(MS_EV_EXEC, 1, 0), "function 1" },
		{ rec_event(MS_EV_EXIT, 2, 0), "function 2" },
		{ rec_event(MS_EV_FORK, 3, 0), "function 3" },
		{ rec_event(MS_EV_DLSTATE, 1, 0), "function 1" },
		{ rec_event(MS_EV_ALLOC, 1, 0x2000), "flags" },
		{ rec_event(MS_EV_ALLOC, 1, 0x2000), "flags" },
		{ rec_event(MS_EV_ALLOC, 1, 0x2000), "outer function 9" },
		{ rec_event(MS_EV_ALLOC, 1, 0x2000), "outer function 0" },
		{ rec_event(MS_EV_ALLOC, 1, 0x2000), "outer function 2" },
		{ rec_event(MS_EV_EXIT, 0, 0), "outer function 1" },
		{ rec_event(MS_EV_ALLOC, 1, 0x2000), "node 64" },
		{ rec_event(MS_EV_ALLOC, 1, 0x2000), "node 255" },
		{ rec_event(MS_EV_ALLOC, 1, 0x2000), "depth 5" },
	};
	struct ms_replay_info info;
	unsigned i, n;

	bad[15].e.flags = 0x80;
	bad[16].e.flags = MS_EVF_STOPPED; /* only FORK, EXEC and DLSTATE stop a process */
	bad[17].e.flags = MS_EVF_NESTED;
	bad[17].e.outer_func = 9;
	bad[17].e.reserved = 1;
	bad[18].e.flags = MS_EVF_NESTED;
	bad[18].e.reserved = 1;
	bad[19].e.outer_func = 2; /* an enclosing call, but not nested */
	bad[20].e.outer_func = 1;
	bad[21].e.node = 64;
	bad[22].e.node = 255;
	bad[23].e.reserved = MS_MAX_DEPTH + 1;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int err = replay_one(&bad[i].e, &n, &info);

		ck_assert_msg(err == -EBADMSG, "bad record %u (%s): replay returned %d", i,
			      bad[i].why, err);
		ck_assert_msg(n == 1, "bad record %u (%s): %u records handed on", i, bad[i].why, n);
		ck_assert_msg(strstr(info.damage, "record 2") && strstr(info.damage, bad[i].why),
			      "bad record %u: damage '%s' (expected record 2 and '%s')", i,
			      info.damage, bad[i].why);
	}
}
END_TEST

/* What the programs do write is accepted: nested calls, stopped processes, the loader's
 * records without a function, a free function's record, the nodes up to MS_MAX_NODES */
START_TEST(good_records_accepted)
{
	struct ms_event good[] = {
		rec_event(MS_EV_ALLOC, 1, 0x2000), rec_event(MS_EV_ALLOC, 1, 0),
		rec_event(MS_EV_FREE, 2, 0x2000),  rec_event(MS_EV_REALLOC_ENTER, 3, 0x2000),
		rec_event(MS_EV_REALLOC, 3, 0),	   rec_event(MS_EV_EXEC, 0, 0),
		rec_event(MS_EV_EXIT, 0, 0),	   rec_event(MS_EV_FORK, 0, 0),
		rec_event(MS_EV_DLSTATE, 0, 0),	   rec_event(MS_EV_ALLOC, 1, 0x2000),
		rec_event(MS_EV_EXEC, 0, 0),	   rec_event(MS_EV_DLSTATE, 0, 0),
		rec_event(MS_EV_ALLOC, 1, 0x2000),
	};
	struct ms_replay_info info;
	unsigned i, n;

	good[9].flags = MS_EVF_NESTED;
	good[9].outer_func = 3;
	good[9].reserved = MS_MAX_DEPTH;
	good[10].flags = MS_EVF_STOPPED;
	good[11].flags = MS_EVF_STOPPED;
	good[12].node = MS_MAX_NODES - 1;
	good[12].cpu = 65535;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		int err = replay_one(&good[i], &n, &info);

		ck_assert_msg(err == 0, "good record %u: replay returned %d (%s)", i, err,
			      info.damage);
		ck_assert_uint_eq(n, 3);
		ck_assert_str_eq(info.damage, "");
	}
}
END_TEST

/* The frames that define the tables are checked too: an allocator of an unknown kind, a
 * function with a backing-only flag past 1, a process shown in an unknown way */
START_TEST(bad_definitions_refused)
{
	struct ms_event good = rec_event(MS_EV_ALLOC, 1, 0x1000);
	struct ms_func f = { .name = "malloc", .kind = MS_FN_ALLOC, .allocator = 1 };
	struct ms_replay_info info;
	struct ms_catalog *cat;
	struct ms_recorder *r;
	char *path = temp_path();
	unsigned n, which;

	for (which = 0; which < 3; which++) {
		cat = ms_catalog_new();
		ck_assert_ptr_nonnull(cat);
		if (which == 0)
			f.allocator = ms_catalog_allocator_id(cat, "pool", MS_AK_MAX);
		else
			f.allocator = 1;
		f.backing_only = which == 1 ? 2 : 0;
		ck_assert_int_eq(ms_catalog_add_func(cat, &f), 1);
		r = ms_recorder_open(path, cat, 0);
		ck_assert_ptr_nonnull(r);
		ck_assert_int_eq(ms_recorder_event(r, &good), 0);
		if (which == 2)
			ck_assert_int_eq(ms_recorder_comm(r, 7, "x", 0x4), 0);
		ck_assert_int_eq(ms_recorder_close(r), 0);
		ms_catalog_free(cat);
		n = 0;
		memset(&info, 0, sizeof(info));
		ck_assert_int_eq(replay_fresh(path, &count_fns, &n, &info), -EBADMSG);
		ck_assert_msg(strstr(info.damage, which == 0 ? "allocator" :
						  which == 1 ? "function" :
							       "process"),
			      "definition %u: damage '%s'", which, info.damage);
	}
	unlink(path);
}
END_TEST

Suite *record_suite(void)
{
	Suite *s = suite_create("record");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, round_trip);
	tcase_add_test(tc, damaged_files);
	tcase_add_test(tc, bad_records_refused);
	tcase_add_test(tc, good_records_accepted);
	tcase_add_test(tc, bad_definitions_refused);
	tcase_add_test(tc, sites_round_trip);
	suite_add_tcase(s, tc);
	return s;
}
