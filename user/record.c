/* record.c: --record and --replay, a zlib-compressed frame stream */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/utsname.h>
#include <zlib.h>
#include "catalog.h"
#include "numa.h"
#include "outfile.h"
#include "presets.h"
#include "record.h"

static const char magic[8] = "MSCOPE\0R";

enum frame_tag {
	TAG_FUNC = 0x434e5546,	    /* "FUNC": struct frame_func */
	TAG_ALLOCATOR = 0x434f4c41, /* "ALOC": struct frame_allocator */
	TAG_COMM = 0x4d4d4f43,	    /* "COMM": struct frame_comm */
	TAG_LOST = 0x54534f4c,	    /* "LOST": u64 counters[MS_CNT_MAX] */
	TAG_EVENTS = 0x53545645,    /* "EVTS": struct ms_event[] */
	TAG_SITE = 0x45544953,	    /* "SITE": struct frame_site, then its frames */
	TAG_SAMPLE = 0x4c504d53,    /* "SMPL": u64 --sample-bytes, before the first record */
	TAG_END = 0x21444e45, /* "END!": u64 events recorded, then (since stacks) u64 the end's
				 CLOCK_MONOTONIC ns; a recording without it is cut */
};

struct file_header {
	char magic[8];
	uint32_t version;
	uint32_t event_size;
	uint32_t counters; /* MS_CNT_MAX when written */
	uint32_t flags;	   /* MS_RECORD_* */
	uint64_t start_realtime_ns;
	char host[64];
	char kernel[64];
};

struct frame {
	uint32_t tag;
	uint32_t len; /* payload bytes */
};

struct frame_func {
	uint16_t id;
	uint16_t allocator;
	uint8_t kind;
	uint8_t backing_only;
	uint8_t pad[2];
	uint64_t fixed_size;
	char name[MS_FUNC_NAME_LEN];
};

struct frame_allocator {
	uint16_t id;
	uint8_t kind;
	uint8_t pad[5];
	char name[MS_ALLOCATOR_NAME_LEN];
};

struct frame_site {
	int32_t pid;
	int32_t stack_id;
	uint64_t caller;
	uint8_t truncated;
	uint8_t pad[3];
	uint32_t nframes; /* then nframes texts of MS_RECORD_FRAME_LEN bytes, NUL-terminated */
};

struct frame_comm {
	int32_t pid;
	uint32_t flags; /* MS_PROC_* */
	char comm[MS_COMM_LEN];
};

#define BATCH 4096 /* events per EVTS frame */
#define MAX_FRAME (BATCH * sizeof(struct ms_event))

struct ms_recorder {
	const struct ms_catalog *cat; /* what the events name: written before them */
	gzFile gz;
	uint64_t events;
	unsigned funcs_written;	 /* functions 1..funcs_written are in the file */
	unsigned allocs_written; /* allocators 2..allocs_written (1 is libc) */
	unsigned n;		 /* events buffered */
	int err;
	struct ms_event buf[BATCH];
};

static int put(struct ms_recorder *r, uint32_t tag, const void *data, uint32_t len)
{
	struct frame f = { .tag = tag, .len = len };

	if (r->err)
		return r->err;
	if (gzwrite(r->gz, &f, sizeof(f)) != sizeof(f) ||
	    (len && gzwrite(r->gz, data, len) != (int)len))
		r->err = errno ? -errno : -EIO;
	return r->err;
}

/* Allocators and functions first: the events that follow may name them */
static int put_funcs(struct ms_recorder *r)
{
	unsigned id;
	int err = 0;

	if (!r->allocs_written)
		r->allocs_written = 1;
	for (id = r->allocs_written + 1; id <= ms_catalog_nallocators(r->cat) && !err; id++) {
		const struct ms_allocator *a = ms_catalog_allocator(r->cat, id);
		struct frame_allocator fa = { .id = id, .kind = a->kind };

		memcpy(fa.name, a->name, sizeof(fa.name));
		err = put(r, TAG_ALLOCATOR, &fa, sizeof(fa));
	}
	r->allocs_written = ms_catalog_nallocators(r->cat);
	for (id = r->funcs_written + 1; id <= ms_catalog_nfuncs(r->cat) && !err; id++) {
		const struct ms_func *f = ms_catalog_func(r->cat, id);
		struct frame_func ff = { .id = id };

		ff.allocator = f->allocator;
		ff.kind = f->kind;
		ff.backing_only = f->backing_only;
		ff.fixed_size = f->fixed_size;
		memcpy(ff.name, f->name, sizeof(ff.name));
		err = put(r, TAG_FUNC, &ff, sizeof(ff));
	}
	r->funcs_written = ms_catalog_nfuncs(r->cat);
	return err;
}

static int flush_events(struct ms_recorder *r)
{
	int err = put_funcs(r);

	if (!err && r->n)
		err = put(r, TAG_EVENTS, r->buf, r->n * sizeof(r->buf[0]));
	r->n = 0;
	return err;
}

struct ms_recorder *ms_recorder_open(const char *path, const struct ms_catalog *cat, uint32_t flags)
{
	struct ms_recorder *r = calloc(1, sizeof(*r));
	struct file_header h = { .version = MS_RECORD_VERSION, .flags = flags };
	struct timespec ts;
	struct utsname u;

	int fd;

	if (!r)
		return NULL;
	r->cat = cat;
	/* not through a link another user planted to a file (outfile.h) */
	fd = ms_outfile_create(path);
	if (fd < 0) {
		free(r);
		errno = -fd;
		return NULL;
	}
	r->gz = gzdopen(fd, "wb1");
	if (!r->gz) {
		close(fd);
		free(r);
		if (!errno)
			errno = ENOMEM;
		return NULL;
	}
	memcpy(h.magic, magic, sizeof(magic));
	h.event_size = sizeof(struct ms_event);
	h.counters = MS_CNT_MAX;
	clock_gettime(CLOCK_REALTIME, &ts);
	h.start_realtime_ns = ts.tv_sec * 1000000000ULL + ts.tv_nsec;
	if (!uname(&u)) {
		memcpy(h.host, u.nodename, strnlen(u.nodename, sizeof(h.host) - 1));
		memcpy(h.kernel, u.release, strnlen(u.release, sizeof(h.kernel) - 1));
	}
	if (gzwrite(r->gz, &h, sizeof(h)) != sizeof(h)) {
		gzclose(r->gz);
		free(r);
		errno = EIO;
		return NULL;
	}
	return r;
}

int ms_recorder_event(struct ms_recorder *r, const struct ms_event *e)
{
	r->events++;
	r->buf[r->n++] = *e;
	if (r->n == BATCH)
		return flush_events(r);
	return r->err;
}

int ms_recorder_comm(struct ms_recorder *r, pid_t pid, const char *comm, uint32_t flags)
{
	struct frame_comm c = { .pid = pid, .flags = flags };
	int err = flush_events(r);

	memcpy(c.comm, comm, strnlen(comm, sizeof(c.comm)));
	return err ? err : put(r, TAG_COMM, &c, sizeof(c));
}

int ms_recorder_lost(struct ms_recorder *r, const uint64_t lost_by[MS_CNT_MAX])
{
	int err = flush_events(r);

	return err ? err : put(r, TAG_LOST, lost_by, MS_CNT_MAX * sizeof(uint64_t));
}

int ms_recorder_site(struct ms_recorder *r, pid_t pid, int32_t stack_id, uint64_t caller,
		     bool truncated, const char (*frames)[MS_RECORD_FRAME_LEN], unsigned n)
{
	static struct {
		struct frame_site s;
		char frames[MS_RECORD_FRAMES_MAX][MS_RECORD_FRAME_LEN];
	} f;
	unsigned i;
	int err = flush_events(r);

	if (err)
		return err;
	if (n > MS_RECORD_FRAMES_MAX)
		n = MS_RECORD_FRAMES_MAX;
	memset(&f.s, 0, sizeof(f.s));
	f.s.pid = pid;
	f.s.stack_id = stack_id;
	f.s.caller = caller;
	f.s.truncated = truncated;
	f.s.nframes = n;
	for (i = 0; i < n; i++) {
		memset(f.frames[i], 0, MS_RECORD_FRAME_LEN);
		memcpy(f.frames[i], frames[i], strnlen(frames[i], MS_RECORD_FRAME_LEN - 1));
	}
	return put(r, TAG_SITE, &f, sizeof(f.s) + n * MS_RECORD_FRAME_LEN);
}

int ms_recorder_sampling(struct ms_recorder *r, uint64_t sample_bytes)
{
	return put(r, TAG_SAMPLE, &sample_bytes, sizeof(sample_bytes));
}

int ms_recorder_close(struct ms_recorder *r)
{
	int err;

	if (!r)
		return 0;
	err = flush_events(r);
	if (!err) {
		struct timespec ts;
		uint64_t end[2] = { r->events };

		clock_gettime(CLOCK_MONOTONIC, &ts); /* the records' clock (bpf_ktime_get_ns) */
		end[1] = ts.tv_sec * 1000000000ULL + ts.tv_nsec;
		err = put(r, TAG_END, end, sizeof(end));
	}
	if (gzclose(r->gz) != Z_OK && !err)
		err = -EIO;
	free(r);
	return err;
}

/* The function kind an allocator record comes from, or 0 for the records of no function */
static unsigned kind_of_type(unsigned type)
{
	switch (type) {
	case MS_EV_ALLOC:
		return MS_FN_ALLOC;
	case MS_EV_FREE:
		return MS_FN_FREE;
	case MS_EV_REALLOC_ENTER:
	case MS_EV_REALLOC:
		return MS_FN_REALLOC;
	default:
		return 0;
	}
}

/*
 * What is wrong with e, a record of the recording, into why (empty when nothing is):
 * every field is one the BPF programs write (include/memscope.h), every function id
 * one the recording defined before the record. A record that fails here would index
 * the statistics' tables with an id they were never told about.
 */
static bool bad_event(const struct ms_catalog *cat, const struct ms_event *e, char *why, size_t len)
{
	unsigned kind = kind_of_type(e->type), count = ms_catalog_nfuncs(cat);
	const struct ms_func *f = ms_catalog_func(cat, e->func),
			     *outer = ms_catalog_func(cat, e->outer_func);
	bool nested = e->flags & MS_EVF_NESTED;

	if (e->type < MS_EV_ALLOC || e->type >= MS_EV_TYPE_MAX)
		snprintf(why, len, "type %u of 1 to %u", e->type, MS_EV_TYPE_MAX - 1);
	else if (e->flags & ~(MS_EVF_NESTED | MS_EVF_STOPPED | MS_EVF_UNSAMPLED))
		snprintf(why, len, "flags 0x%x", e->flags);
	else if ((e->flags & MS_EVF_UNSAMPLED) && e->type != MS_EV_ALLOC &&
		 e->type != MS_EV_REALLOC)
		snprintf(why, len, "flags 0x%x on a record of type %u", e->flags, e->type);
	else if ((e->flags & MS_EVF_STOPPED) && e->type != MS_EV_FORK && e->type != MS_EV_EXEC &&
		 e->type != MS_EV_DLSTATE)
		snprintf(why, len, "flags 0x%x on a record of type %u", e->flags, e->type);
	/* an allocator's record names a function of its kind; the others none, but for the
	 * loader's, which may name a function of the loader kind */
	else if (kind && (!f || f->kind != kind))
		snprintf(why, len, "function %u (%s) of %u for a record of type %u", e->func,
			 f ? "another kind" : "not defined", count, e->type);
	else if (!kind && e->func && !(e->type == MS_EV_DLSTATE && f && f->kind == MS_FN_DLSTATE))
		snprintf(why, len, "function %u for a record of type %u", e->func, e->type);
	/* a nested call names the call it was made in, an outermost one none */
	else if (nested && (!kind || !outer || outer->kind == MS_FN_DLSTATE))
		snprintf(why, len, "outer function %u (%s) of %u", e->outer_func,
			 outer ? "not an allocator's" : "not defined", count);
	else if (!nested && e->outer_func)
		snprintf(why, len, "outer function %u of a call not nested", e->outer_func);
	else if (e->node >= MS_MAX_NODES)
		snprintf(why, len, "node %u of at most %u", e->node, MS_MAX_NODES);
	else if (e->reserved > MS_MAX_DEPTH) /* an old recording's nesting depth, or 0 */
		snprintf(why, len, "depth %u of at most %u", e->reserved, MS_MAX_DEPTH);
	/* the programs send no release of NULL */
	else if (!e->a.ptr && (e->type == MS_EV_FREE || e->type == MS_EV_REALLOC_ENTER))
		snprintf(why, len, "a release of address 0");
	else
		return false;
	return true;
}

/* Says where and what the damage is, for ms_replay_info's damage; returns -EBADMSG */
static int damaged(char *damage, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(damage, sizeof(((struct ms_replay_info *)0)->damage), fmt, ap);
	va_end(ap);
	return -EBADMSG;
}

/* Reads exactly len bytes: 1, 0 at a clean end of file, or -EBADMSG */
static int get(gzFile gz, void *buf, size_t len)
{
	int n = gzread(gz, buf, len);

	if (n == (int)len)
		return 1;
	if (n == 0 && gzeof(gz))
		return 0;
	return -EBADMSG;
}

int ms_replay(const char *path, struct ms_catalog *cat, const struct ms_replay_fns *fns, void *ctx,
	      struct ms_replay_info *info)
{
	struct ms_replay_info local;
	struct file_header h;
	struct frame f;
	uint64_t lost[MS_CNT_MAX], events = 0, recorded[2] = { 0 };
	bool ended = false;
	uint8_t *buf = NULL;
	char *damage;
	gzFile gz;
	uint32_t i;
	int err;

	if (!info)
		info = &local;
	memset(info, 0, sizeof(*info));
	damage = info->damage;
	gz = gzopen(path, "rb");
	if (!gz)
		return errno ? -errno : -ENOMEM;
	err = get(gz, &h, sizeof(h));
	if (err <= 0 || memcmp(h.magic, magic, sizeof(magic))) {
		err = -ENOEXEC;
		goto out;
	}
	if (h.version != MS_RECORD_VERSION || h.event_size != sizeof(struct ms_event) ||
	    h.counters != MS_CNT_MAX) {
		err = -ENOEXEC;
		goto out;
	}
	if (h.flags & ~MS_RECORD_STACKS) {
		err = -ENOEXEC;
		goto out;
	}
	info->flags = h.flags;
	memcpy(info->host, h.host, sizeof(h.host));
	info->host[64] = '\0';
	memcpy(info->kernel, h.kernel, sizeof(h.kernel));
	info->kernel[64] = '\0';
	buf = malloc(MAX_FRAME);
	if (!buf) {
		err = -ENOMEM;
		goto out;
	}
	while (!ended && (err = get(gz, &f, sizeof(f))) == 1) {
		if (f.len > MAX_FRAME) {
			err = damaged(damage, "after record %" PRIu64 ": a frame of %u bytes",
				      events, f.len);
			break;
		}
		err = get(gz, buf, f.len);
		if (err != 1 && f.len) {
			err = damaged(damage, "after record %" PRIu64 ": a frame cut short",
				      events);
			break;
		}
		switch (f.tag) {
		case TAG_ALLOCATOR: {
			struct frame_allocator *fa = (void *)buf;
			char name[MS_ALLOCATOR_NAME_LEN];

			memcpy(name, fa->name, sizeof(name));
			name[sizeof(name) - 1] = '\0';
			if (f.len != sizeof(*fa)) {
				err = damaged(damage,
					      "after record %" PRIu64 ": an allocator of %u bytes",
					      events, f.len);
				goto out;
			}
			if (fa->id != ms_catalog_nallocators(cat) + 1 || fa->kind >= MS_AK_MAX ||
			    ms_catalog_allocator_id(cat, name, fa->kind) != fa->id) {
				err = damaged(damage,
					      "after record %" PRIu64 ": allocator %u of kind %u "
					      "(expected allocator %u)",
					      events, fa->id, fa->kind,
					      ms_catalog_nallocators(cat) + 1);
				goto out;
			}
			break;
		}
		case TAG_FUNC: {
			struct frame_func *ff = (void *)buf;
			struct ms_func fn = { 0 };

			/* a function of an allocator the recording defined, of a known kind */
			if (f.len != sizeof(*ff)) {
				err = damaged(damage,
					      "after record %" PRIu64 ": a function of %u bytes",
					      events, f.len);
				goto out;
			}
			if (ff->id != ms_catalog_nfuncs(cat) + 1 ||
			    !ms_catalog_allocator(cat, ff->allocator) || ff->kind < MS_FN_ALLOC ||
			    ff->kind > MS_FN_DLSTATE || ff->backing_only > 1) {
				err = damaged(damage,
					      "after record %" PRIu64
					      ": function %u of allocator %u, "
					      "kind %u (expected function %u)",
					      events, ff->id, ff->allocator, ff->kind,
					      ms_catalog_nfuncs(cat) + 1);
				goto out;
			}
			fn.allocator = ff->allocator;
			fn.kind = ff->kind;
			fn.backing_only = ff->backing_only;
			fn.fixed_size = ff->fixed_size;
			memcpy(fn.name, ff->name, sizeof(fn.name) - 1);
			if (ms_catalog_add_func(cat, &fn) < 0) {
				err = damaged(damage,
					      "after record %" PRIu64 ": more than %u functions",
					      events, MS_MAX_FUNCS - 1);
				goto out;
			}
			break;
		}
		case TAG_COMM: {
			struct frame_comm *c = (void *)buf;
			char comm[MS_COMM_LEN + 1];

			if (f.len != sizeof(*c) ||
			    (c->flags & ~(MS_PROC_LISTED | MS_PROC_PINNED))) {
				err = damaged(damage,
					      "after record %" PRIu64
					      ": a process frame of %u bytes, "
					      "shown as 0x%x",
					      events, f.len, f.len == sizeof(*c) ? c->flags : 0);
				goto out;
			}
			memcpy(comm, c->comm, MS_COMM_LEN);
			comm[MS_COMM_LEN] = '\0';
			if (fns->comm)
				fns->comm(c->pid, comm, c->flags, ctx);
			break;
		}
		case TAG_LOST:
			if (f.len != sizeof(lost)) {
				err = damaged(damage,
					      "after record %" PRIu64 ": loss counters of %u bytes",
					      events, f.len);
				goto out;
			}
			memcpy(lost, buf, sizeof(lost));
			if (fns->lost)
				fns->lost(lost, ctx);
			break;
		case TAG_EVENTS:
			if (f.len % sizeof(struct ms_event)) {
				err = damaged(damage,
					      "after record %" PRIu64 ": records of %u bytes",
					      events, f.len);
				goto out;
			}
			/* each record checked before it is handed on: what came before a bad one
			 * is replayed, nothing after it */
			for (i = 0; i < f.len / sizeof(struct ms_event); i++) {
				const struct ms_event *e = (struct ms_event *)buf + i;
				char why[96];

				if (bad_event(cat, e, why, sizeof(why))) {
					err = damaged(damage, "record %" PRIu64 ": %s", events + 1,
						      why);
					goto out;
				}
				fns->event(e, ctx);
				events++;
			}
			break;
		case TAG_SITE: {
			struct frame_site *s = (void *)buf;
			unsigned k;

			/* its frames whole and terminated, of a recording with stacks */
			if (f.len < sizeof(*s) || !(h.flags & MS_RECORD_STACKS) ||
			    s->nframes > MS_RECORD_FRAMES_MAX ||
			    f.len != sizeof(*s) + s->nframes * MS_RECORD_FRAME_LEN ||
			    s->truncated > 1 || s->stack_id < -1) {
				err = damaged(damage,
					      "after record %" PRIu64 ": a site of %u bytes",
					      events, f.len);
				goto out;
			}
			for (k = 0; k < s->nframes; k++)
				if (!memchr(buf + sizeof(*s) + k * MS_RECORD_FRAME_LEN, '\0',
					    MS_RECORD_FRAME_LEN)) {
					err = damaged(damage,
						      "after record %" PRIu64
						      ": a site's frame %u not terminated",
						      events, k);
					goto out;
				}
			if (fns->site)
				fns->site(s->pid, s->stack_id, s->caller, s->truncated,
					  (const char(*)[MS_RECORD_FRAME_LEN])(buf + sizeof(*s)),
					  s->nframes, ctx);
			break;
		}
		case TAG_SAMPLE:
			/* once, before any record, of a recording with stacks */
			if (f.len != sizeof(info->sample_bytes) || events || info->sample_bytes ||
			    !(h.flags & MS_RECORD_STACKS)) {
				err = damaged(damage, "after record %" PRIu64 ": a sample frame",
					      events);
				goto out;
			}
			memcpy(&info->sample_bytes, buf, sizeof(info->sample_bytes));
			if (!info->sample_bytes || info->sample_bytes > MS_SAMPLE_MAX) {
				err = damaged(damage, "a sample of %" PRIu64 " bytes",
					      info->sample_bytes);
				goto out;
			}
			break;
		case TAG_END:
			/* the count, and in recordings since stacks the time of the end */
			if (f.len != sizeof(recorded[0]) && f.len != sizeof(recorded)) {
				err = damaged(damage, "an end frame of %u bytes", f.len);
				goto out;
			}
			memcpy(recorded, buf, f.len);
			if (recorded[0] != events) {
				err = damaged(damage,
					      "the end frame counts %" PRIu64
					      " records, the recording "
					      "holds %" PRIu64,
					      recorded[0], events);
				goto out;
			}
			info->end_ns = recorded[1];
			ended = true;
			break;
		default:
			err = damaged(damage,
				      "after record %" PRIu64 ": a frame of unknown tag 0x%08x",
				      events, f.tag);
			goto out;
		}
	}
	if (err < 0 && !damage[0])
		damaged(damage, "after record %" PRIu64 ": a frame cut short", events);
	if (err == 0 && !ended)
		err = damaged(damage, "cut short after record %" PRIu64 ": no end frame", events);
out:
	free(buf);
	gzclose(gz);
	return err < 0 ? err : 0;
}
