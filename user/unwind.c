/* unwind.c: each object's CFI rows and each traced process' executable mappings, in the
 * BPF maps the programs unwind stacks with */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "cfi.h"
#include "elfsym.h"
#include "keyidx.h"
#include "unwind.h"
#include "vec.h"

struct object {
	dev_t dev;
	ino_t ino;
	uint32_t id;				    /* index into ms_cfi_objs; 0: no rows */
	struct ms_cfi_segment seg[MS_CFI_SEGMENTS]; /* for the bias of its mappings */
	unsigned nseg;
};

struct ms_unwind {
	int rows_fd, objs_fd, procs_fd;
	uint32_t rows_max, rows_used;
	uint32_t objs_max, objs_used; /* object 0: none (no rows) */
	struct object *objs;
	size_t nobjs, cap;
	struct ms_keyidx by_file; /* (device, inode) -> index in objs */
	struct ms_unwind_stats st;
	bool verbose;
};

struct ms_unwind *ms_unwind_new(int rows_fd, uint32_t rows_max, int objs_fd, uint32_t objs_max,
				int procs_fd, bool verbose)
{
	struct ms_unwind *u = calloc(1, sizeof(*u));

	if (!u)
		return NULL;
	u->rows_fd = rows_fd;
	u->rows_max = rows_max;
	u->objs_fd = objs_fd;
	u->objs_max = objs_max;
	u->objs_used = 1;
	u->procs_fd = procs_fd;
	u->verbose = verbose;
	return u;
}

static struct object *find(struct ms_unwind *u, dev_t dev, ino_t ino)
{
	long i = ms_keyidx_get(&u->by_file, dev, ino, false);

	return i < 0 ? NULL : &u->objs[i];
}

/* Writes t's rows to the programs' maps; the object's id, or 0 when there is no room */
static uint32_t publish(struct ms_unwind *u, const struct ms_cfi_table *t)
{
	struct ms_cfi_obj o = { u->rows_used, (uint32_t)t->n };
	uint32_t id = u->objs_used, k, i;

	if (t->n > u->rows_max - u->rows_used || id >= u->objs_max) {
		u->st.no_room++;
		return 0;
	}
	for (i = 0; i < t->n; i++) {
		k = u->rows_used + i;
		if (bpf_map_update_elem(u->rows_fd, &k, &t->v[i], BPF_ANY))
			return 0;
	}
	if (bpf_map_update_elem(u->objs_fd, &id, &o, BPF_ANY))
		return 0;
	u->rows_used += t->n;
	u->objs_used++;
	u->st.objects++;
	u->st.rows += t->n;
	return id;
}

/* The object of mapping m of pid: read and published the first time */
static struct object *object_of(struct ms_unwind *u, pid_t pid, const struct ms_mapping *m)
{
	struct ms_cfi_table t;
	struct object *o, fresh = { 0 };
	char path[64];
	struct stat st;
	int fd, rfd, err;

	fd = ms_maps_pin("/proc", pid, m, &st);
	if (fd < 0)
		return NULL;
	o = find(u, st.st_dev, st.st_ino);
	if (o) {
		close(fd);
		return o;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	rfd = ms_elf_open_file(path, NULL);
	close(fd);
	if (rfd < 0)
		return NULL;
	err = ms_cfi_read(rfd, &t);
	close(rfd);
	fresh.dev = st.st_dev;
	fresh.ino = st.st_ino;
	if (!err)
		fresh.id = publish(u, &t);
	else
		u->st.without_rows++;
	if (err == -EFBIG || err == -ETIME)
		fprintf(stderr,
			"memscope-bpf: %s: call frame information past the bound of one object "
			"(%u rows, %u a function, %.0f s to read): frame pointers only there\n",
			m->path, MS_CFI_ROWS_MAX, MS_CFI_FDE_ROWS_MAX, MS_CFI_TIME_MAX_NS / 1e9);
	else if (u->verbose)
		fprintf(stderr, "memscope-bpf: unwind rows of %s: %zu (%s)\n", m->path, t.n,
			err	 ? strerror(-err) :
			fresh.id ? "loaded" :
				   "no room");
	memcpy(fresh.seg, t.seg, sizeof(fresh.seg));
	fresh.nseg = t.nseg;
	ms_cfi_free(&t);
	/* numbered as objs grows: the index' number is the object's place */
	if (MS_VEC_RESERVE(u->objs, u->cap, u->nobjs + 1) ||
	    ms_keyidx_get(&u->by_file, fresh.dev, fresh.ino, true) != (long)u->nobjs)
		return NULL;
	u->objs[u->nobjs] = fresh;
	return &u->objs[u->nobjs++];
}

static int by_start(const void *x, const void *y)
{
	const struct ms_cfi_map *a = x, *b = y;

	return a->start < b->start ? -1 : a->start > b->start;
}

int ms_unwind_add(struct ms_unwind *u, const struct ms_maps *maps)
{
	struct ms_cfi_proc *proc = calloc(1, sizeof(*proc));
	__u32 key = maps->pid;
	size_t i;
	int err;

	if (!proc)
		return -ENOMEM;
	for (i = 0; i < maps->n; i++) {
		const struct ms_mapping *m = &maps->v[i];
		struct object *o = object_of(u, maps->pid, m);
		uint64_t bias;

		if (!o || ms_cfi_bias(o->seg, o->nseg, m->start, m->offset, &bias))
			continue;
		if (proc->n == MS_UNWIND_MAPS) {
			u->st.maps_dropped++;
			continue;
		}
		proc->m[proc->n++] = (struct ms_cfi_map){ m->start, m->end, bias, o->id, 0 };
	}
	/* JIT code and the vDSO: code without rows (frame pointers, with auto) */
	for (i = 0; i < maps->nanon; i++) {
		if (proc->n == MS_UNWIND_MAPS) {
			u->st.maps_dropped++;
			continue;
		}
		proc->m[proc->n++] =
			(struct ms_cfi_map){ maps->anon[i].start, maps->anon[i].end, 0, 0, 0 };
	}
	qsort(proc->m, proc->n, sizeof(proc->m[0]), by_start);
	err = bpf_map_update_elem(u->procs_fd, &key, proc, BPF_ANY) ? -errno : 0;
	free(proc);
	return err;
}

void ms_unwind_forget(struct ms_unwind *u, pid_t pid)
{
	__u32 key = pid;

	bpf_map_delete_elem(u->procs_fd, &key);
}

void ms_unwind_stats(const struct ms_unwind *u, struct ms_unwind_stats *st)
{
	*st = u->st;
}

void ms_unwind_free(struct ms_unwind *u)
{
	if (!u)
		return;
	free(u->objs);
	ms_keyidx_free(&u->by_file);
	free(u);
}
