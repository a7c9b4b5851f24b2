/* record.c: --record and --replay, a zlib-compressed frame stream */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/utsname.h>
#include <zlib.h>
#include "allocators.h"
#include "funcs.h"
#include "record.h"

static const char magic[8] = "MSCOPE\0R";

enum frame_tag {
	TAG_FUNC = 0x434e5546,	    /* "FUNC": struct frame_func */
	TAG_ALLOCATOR = 0x434f4c41, /* "ALOC": struct frame_allocator */
	TAG_COMM = 0x4d4d4f43,	    /* "COMM": struct frame_comm */
	TAG_LOST = 0x54534f4c,	    /* "LOST": u64 counters[MS_CNT_MAX] */
	TAG_EVENTS = 0x53545645,    /* "EVTS": struct ms_event[] */
	TAG_END = 0x21444e45,	    /* "END!": u64 events recorded; a recording without it is cut */
};

struct file_header {
	char magic[8];
	uint32_t version;
	uint32_t event_size;
	uint32_t counters; /* MS_CNT_MAX when written */
	uint32_t pad;
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

struct frame_comm {
	int32_t pid;
	uint32_t flags; /* MS_PROC_* */
	char comm[MS_COMM_LEN];
};

#define BATCH 4096 /* events per EVTS frame */
#define MAX_FRAME (BATCH * sizeof(struct ms_event))

struct ms_recorder {
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
	for (id = r->allocs_written + 1; id <= ms_allocators_count() && !err; id++) {
		const struct ms_allocator *a = ms_allocators_get(id);
		struct frame_allocator fa = { .id = id, .kind = a->kind };

		memcpy(fa.name, a->name, sizeof(fa.name));
		err = put(r, TAG_ALLOCATOR, &fa, sizeof(fa));
	}
	r->allocs_written = ms_allocators_count();
	for (id = r->funcs_written + 1; id <= ms_funcs_count() && !err; id++) {
		const struct ms_func *f = ms_funcs_get(id);
		struct frame_func ff = { .id = id };

		ff.allocator = f->allocator;
		ff.kind = f->kind;
		ff.backing_only = f->backing_only;
		ff.fixed_size = f->fixed_size;
		memcpy(ff.name, f->name, sizeof(ff.name));
		err = put(r, TAG_FUNC, &ff, sizeof(ff));
	}
	r->funcs_written = ms_funcs_count();
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

struct ms_recorder *ms_recorder_open(const char *path)
{
	struct ms_recorder *r = calloc(1, sizeof(*r));
	struct file_header h = { .version = MS_RECORD_VERSION };
	struct timespec ts;
	struct utsname u;

	if (!r)
		return NULL;
	r->gz = gzopen(path, "wb1");
	if (!r->gz) {
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

int ms_recorder_close(struct ms_recorder *r)
{
	int err;

	if (!r)
		return 0;
	err = flush_events(r);
	if (!err)
		err = put(r, TAG_END, &r->events, sizeof(r->events));
	if (gzclose(r->gz) != Z_OK && !err)
		err = -EIO;
	free(r);
	return err;
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

int ms_replay(const char *path, const struct ms_replay_fns *fns, void *ctx,
	      struct ms_replay_info *info)
{
	struct file_header h;
	struct frame f;
	uint64_t lost[MS_CNT_MAX], events = 0, recorded;
	bool ended = false;
	uint8_t *buf = NULL;
	gzFile gz;
	uint32_t i;
	int err;

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
	if (info) {
		info->version = h.version;
		memcpy(info->host, h.host, sizeof(h.host));
		info->host[64] = '\0';
		memcpy(info->kernel, h.kernel, sizeof(h.kernel));
		info->kernel[64] = '\0';
		info->start_realtime_ns = h.start_realtime_ns;
	}
	buf = malloc(MAX_FRAME);
	if (!buf) {
		err = -ENOMEM;
		goto out;
	}
	while (!ended && (err = get(gz, &f, sizeof(f))) == 1) {
		if (f.len > MAX_FRAME) {
			err = -EBADMSG;
			break;
		}
		err = get(gz, buf, f.len);
		if (err != 1 && f.len) {
			err = -EBADMSG;
			break;
		}
		switch (f.tag) {
		case TAG_ALLOCATOR: {
			struct frame_allocator *fa = (void *)buf;
			char name[MS_ALLOCATOR_NAME_LEN];

			memcpy(name, fa->name, sizeof(name));
			name[sizeof(name) - 1] = '\0';
			if (f.len != sizeof(*fa) || fa->id != ms_allocators_count() + 1 ||
			    ms_allocators_get_or_add(name, fa->kind) != fa->id) {
				err = -EBADMSG;
				goto out;
			}
			break;
		}
		case TAG_FUNC: {
			struct frame_func *ff = (void *)buf;
			struct ms_func fn = { 0 };

			/* a function of an allocator the recording defined, of a known kind */
			if (f.len != sizeof(*ff) || ff->id != ms_funcs_count() + 1 ||
			    !ms_allocators_get(ff->allocator) || ff->kind < MS_FN_ALLOC ||
			    ff->kind > MS_FN_DLSTATE) {
				err = -EBADMSG;
				goto out;
			}
			fn.allocator = ff->allocator;
			fn.kind = ff->kind;
			fn.backing_only = ff->backing_only;
			fn.fixed_size = ff->fixed_size;
			memcpy(fn.name, ff->name, sizeof(fn.name) - 1);
			if (ms_funcs_add(&fn) < 0) {
				err = -EBADMSG;
				goto out;
			}
			break;
		}
		case TAG_COMM: {
			struct frame_comm *c = (void *)buf;
			char comm[MS_COMM_LEN + 1];

			if (f.len != sizeof(*c)) {
				err = -EBADMSG;
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
				err = -EBADMSG;
				goto out;
			}
			memcpy(lost, buf, sizeof(lost));
			if (fns->lost)
				fns->lost(lost, ctx);
			break;
		case TAG_EVENTS:
			if (f.len % sizeof(struct ms_event)) {
				err = -EBADMSG;
				goto out;
			}
			for (i = 0; i < f.len / sizeof(struct ms_event); i++)
				fns->event((struct ms_event *)buf + i, ctx);
			events += f.len / sizeof(struct ms_event);
			break;
		case TAG_END:
			memcpy(&recorded, buf, sizeof(recorded));
			if (f.len != sizeof(recorded) || recorded != events) {
				err = -EBADMSG;
				goto out;
			}
			ended = true;
			break;
		default:
			err = -EBADMSG;
			goto out;
		}
	}
	if (err == 0 && !ended)
		err = -EBADMSG; /* cut short: the tracer did not end cleanly */
out:
	free(buf);
	gzclose(gz);
	return err < 0 ? err : 0;
}
