/* symcache.c: per-process copies of the executable mappings, resolved with ELF symbols */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <elfutils/libdwelf.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include "elfsym.h"
#include "probes.h"
#include "procmaps.h"
#include "symcache.h"
#include "symbolizer.h"
#include "vec.h"

struct map {
	uint64_t start, end, offset;
	char *path;    /* as the process maps it */
	dev_t dev;     /* the mapped file's identity: as stat() shows it through map_files */
	ino_t ino;     /* when it could be read, else as /proc/PID/maps names it */
	bool deleted;  /* its path names nothing, or another file */
	bool bid_read; /* build_id was looked for */
	char build_id[MS_BUILD_ID_HEX]; /* its file's GNU build-id in hex, "" when none */
};

struct snap {
	pid_t pid;
	struct map *maps;
	size_t n, cap;
	struct ms_range *anon; /* executable, no file: JIT code, the vDSO */
	size_t nanon;
};

struct ms_symcache {
	struct snap *v;
	size_t n, cap;
	struct ms_symbolizer *sym; /* libdwfl, cached per build-id; NULL: ELF symbols only */
};

struct ms_symcache *ms_symcache_new(void)
{
	struct ms_symcache *c = calloc(1, sizeof(struct ms_symcache));

	if (c)
		c->sym = ms_symbolizer_new();
	return c;
}

static void snap_clear(struct snap *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->maps[i].path);
	free(s->maps);
	free(s->anon);
	s->maps = NULL;
	s->anon = NULL;
	s->n = s->cap = s->nanon = 0;
}

void ms_symcache_free(struct ms_symcache *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < c->n; i++)
		snap_clear(&c->v[i]);
	free(c->v);
	ms_symbolizer_free(c->sym);
	free(c);
}

static struct snap *find(struct ms_symcache *c, pid_t pid)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		if (c->v[i].pid == pid)
			return &c->v[i];
	return NULL;
}

static int add_map(const struct ms_mapping *m, void *arg)
{
	struct snap *s = arg;
	struct stat st;
	struct map *v;
	int fd;

	if (MS_VEC_RESERVE(s->maps, s->cap, s->n + 1))
		return -ENOMEM;
	v = &s->maps[s->n];
	v->start = m->start;
	v->end = m->end;
	v->offset = m->offset;
	v->deleted = m->deleted;
	/* the file itself, while it is mapped: what a path must name later to be read */
	fd = ms_maps_pin("/proc", s->pid, m, &st);
	if (fd >= 0) {
		v->dev = st.st_dev;
		v->ino = st.st_ino;
		close(fd);
	} else {
		v->dev = makedev(m->dev_major, m->dev_minor);
		v->ino = m->inode;
	}
	v->path = strdup(m->path);
	if (!v->path)
		return -ENOMEM;
	s->n++;
	return 0;
}

int ms_symcache_snapshot(struct ms_symcache *c, const struct ms_maps *maps)
{
	struct snap fresh = { .pid = maps->pid }, *s;
	pid_t pid = maps->pid;
	int err;

	/* an exiting process maps nothing: what it mapped stays what its addresses name */
	if (!maps->n && !maps->nanon && find(c, pid))
		return 0;
	err = ms_maps_each(maps, add_map, &fresh);
	if (!err && maps->nanon) {
		fresh.anon = malloc(maps->nanon * sizeof(*fresh.anon));
		if (fresh.anon) {
			memcpy(fresh.anon, maps->anon, maps->nanon * sizeof(*fresh.anon));
			fresh.nanon = maps->nanon;
		} else {
			err = -ENOMEM;
		}
	}
	if (err) {
		snap_clear(&fresh);
		return err;
	}
	s = find(c, pid);
	if (!s) {
		if (MS_VEC_RESERVE(c->v, c->cap, c->n + 1)) {
			snap_clear(&fresh);
			return -ENOMEM;
		}
		s = &c->v[c->n++];
		memset(s, 0, sizeof(*s)); /* a forgotten copy's slot holds what moved out */
	}
	snap_clear(s);
	*s = fresh;
	return 0;
}

void ms_symcache_forget(struct ms_symcache *c, pid_t pid)
{
	struct snap *s = find(c, pid);

	if (!s)
		return;
	snap_clear(s);
	*s = c->v[--c->n];
}

/* pid's copy, taken now if there is none; NULL when the process is gone */
static struct snap *snap_of(struct ms_symcache *c, pid_t pid)
{
	struct snap *s = find(c, pid);
	struct ms_maps maps = { 0 };

	if (!s && !ms_maps_read("/proc", pid, &maps) && !ms_symcache_snapshot(c, &maps))
		s = find(c, pid);
	ms_maps_free(&maps);
	return s;
}

/* The mapping of pid's copy that holds addr (taking the copy if there is none) */
static const struct map *map_of(struct ms_symcache *c, pid_t pid, uint64_t addr)
{
	struct snap *s = snap_of(c, pid);
	size_t i;

	for (i = 0; s && i < s->n; i++)
		if (addr >= s->maps[i].start && addr < s->maps[i].end)
			return &s->maps[i];
	return NULL;
}

/* path, pinned (O_PATH), when it is a regular file with m's identity; else -1 */
static int pin_same(const char *path, const struct map *m)
{
	struct stat st;
	int fd = open(path, O_PATH | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_dev != m->dev || st.st_ino != m->ino) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * m's object, without trusting what its path names now (a FIFO put there would block
 * the daemon): its name into name (/proc/PID/root + the path while pid lives, else the
 * path as mapped) and a pinned descriptor of the file itself (-1 when neither
 * /proc/PID/map_files nor the name still leads to it). *named: whether name does.
 */
static int object_of(pid_t pid, const struct map *m, char *name, size_t len, bool *named)
{
	char mf[96];
	int fd;

	*named = false;
	if (!m->deleted) {
		/* through pid's root, then as mapped: pid may have ended, even since the
		 * last call (its /proc entry gone); the same file or none either way (pin_same
		 * checks its identity) */
		snprintf(name, len, "/proc/%d/root%s", (int)pid, m->path);
		fd = pin_same(name, m);
		if (fd < 0) {
			snprintf(name, len, "%s", m->path);
			fd = pin_same(name, m);
		}
		if (fd >= 0) {
			*named = true;
			return fd;
		}
	}
	snprintf(name, len, "%s", m->path);
	snprintf(mf, sizeof(mf), "/proc/%d/map_files/%" PRIx64 "-%" PRIx64, (int)pid, m->start,
		 m->end);
	return pin_same(mf, m);
}

/* m's file's GNU build-id in hex into m->build_id, looked for once ("" when none) */
static void read_build_id(pid_t pid, struct map *m)
{
	char name[PATH_MAX], pinned[64];
	const unsigned char *id;
	bool named;
	Elf *elf;
	int fd, rfd, n, i;

	m->bid_read = true;
	fd = object_of(pid, m, name, sizeof(name), &named);
	if (fd < 0)
		return;
	snprintf(pinned, sizeof(pinned), "/proc/self/fd/%d", fd);
	rfd = ms_elf_open_file(pinned, NULL);
	close(fd);
	if (rfd < 0)
		return;
	elf_version(EV_CURRENT);
	if (!ms_elf_check_headers(rfd) && (elf = elf_begin(rfd, ELF_C_READ, NULL))) {
		n = dwelf_elf_gnu_build_id(elf, (const void **)&id);
		for (i = 0; i < n && 2 * i + 2 < MS_BUILD_ID_HEX; i++)
			snprintf(m->build_id + 2 * i, 3, "%02x", id[i]);
		elf_end(elf);
	}
	close(rfd);
}

int ms_symcache_mapping(pid_t pid, uint64_t addr, struct ms_symcache_mapping *out, void *cache)
{
	struct map *m = (struct map *)map_of(cache, pid, addr);

	if (!m)
		return -ENOENT;
	if (!m->bid_read)
		read_build_id(pid, m);
	out->start = m->start;
	out->end = m->end;
	out->offset = m->offset;
	out->path = m->path;
	out->build_id = m->build_id;
	return 0;
}

int ms_symcache_object(pid_t pid, uint64_t addr, char *path, size_t len, void *cache)
{
	const struct map *m = map_of(cache, pid, addr);
	bool named;
	int fd;

	if (!m)
		return -ENOENT;
	fd = object_of(pid, m, path, len, &named);
	if (fd < 0)
		return -ENOENT;
	close(fd);
	/* a path that reads the object and carries its name; else the mapping itself */
	if (!named)
		snprintf(path, len, "/proc/%d/map_files/%" PRIx64 "-%" PRIx64, (int)pid, m->start,
			 m->end);
	return 0;
}

/* ms_symcache_resolve, and the calls inlined at addr into inlined (symbolizer.h); with
 * paths, files by their whole path (else by name); *unread (when not NULL): set when the
 * answer is 1 because the object could not be opened at all */
static int resolve(pid_t pid, uint64_t addr, char *name, size_t len, char *inlined,
		   size_t inlined_len, bool paths, bool *unread, void *cache)
{
	struct ms_symcache *c = cache;
	const struct map *m = map_of(c, pid, addr);
	char path[PATH_MAX], pinned[64], fn[256];
	uint64_t off, into;
	const char *base;
	bool named;
	int fd, err = -1;

	if (!m)
		return -ENOENT;
	off = addr - m->start + m->offset;
	fd = object_of(pid, m, path, sizeof(path), &named);
	if (unread)
		*unread = fd < 0;
	if (fd >= 0) {
		snprintf(pinned, sizeof(pinned), "/proc/self/fd/%d", fd);
		if (c->sym && off > 0) {
			struct ms_frame_info f, g;

			/* a return address: the call is the byte before it (its line); one at
			 * a function's first byte, where nothing calls from before it, is a
			 * signal handler's return to the restorer (__restore_rt) */
			uint64_t at = off - 1;

			err = ms_symbolizer_resolve_as(c->sym, pinned, path, at, &f);
			if (!err && !f.function[0] &&
			    !ms_symbolizer_resolve_as(c->sym, pinned, path, off, &g) &&
			    g.function[0]) {
				f = g;
				at = off;
			}
			if (!err) {
				close(fd);
				f.offset += off - at;
				if (paths)
					ms_frame_format_path(&f, name, len);
				else
					ms_frame_format(&f, true, name, len);
				if (inlined && paths)
					snprintf(inlined, inlined_len, "%s", f.inlined);
				else if (inlined)
					ms_inlined_base_names(f.inlined, inlined, inlined_len);
				return f.function[0] ? 0 : 1;
			}
		}
		err = ms_elf_symbolize(pinned, off, fn, sizeof(fn), &into);
		close(fd);
	}
	if (!err) {
		if (into)
			snprintf(name, len, "%s+0x%" PRIx64, fn, into);
		else
			snprintf(name, len, "%s", fn);
		return 0;
	}
	base = strrchr(m->path, '/');
	snprintf(name, len, "%s+0x%" PRIx64, base ? base + 1 : m->path, off);
	return 1;
}

int ms_symcache_resolve(pid_t pid, uint64_t addr, char *name, size_t len, void *cache)
{
	return resolve(pid, addr, name, len, NULL, 0, false, NULL, cache);
}

/* ms_symcache_frames into frames of flen bytes each; with paths, files by whole path */
static int frames_at(pid_t pid, uint64_t addr, char *frames, size_t flen, unsigned max, bool paths,
		     void *cache)
{
	char inlined[2048] = "", *p, *nl;
	unsigned n = 0;
	int err;

	if (!max)
		return 0;
	err = resolve(pid, addr, frames + (max - 1) * flen, flen, inlined, sizeof(inlined), paths,
		      NULL, cache);
	if (err < 0)
		return err;
	for (p = inlined; *p && n < max - 1; p = nl + 1) {
		nl = strchr(p, '\n');
		if (!nl)
			break;
		snprintf(frames + n++ * flen, flen, "%.*s", (int)(nl - p), p);
	}
	if (n < max - 1)
		memmove(frames + n * flen, frames + (max - 1) * flen, flen);
	return n + 1;
}

int ms_symcache_frames(pid_t pid, uint64_t addr, char (*frames)[MS_FRAME_LEN], unsigned max,
		       void *cache)
{
	return frames_at(pid, addr, frames[0], MS_FRAME_LEN, max, false, cache);
}

int ms_symcache_frames_path(pid_t pid, uint64_t addr, char (*frames)[MS_FRAME_PATH_LEN],
			    unsigned max, void *cache)
{
	return frames_at(pid, addr, frames[0], MS_FRAME_PATH_LEN, max, true, cache);
}

int ms_symcache_code(pid_t pid, uint64_t addr, void *cache)
{
	struct snap *s = snap_of(cache, pid);
	size_t i;

	if (!s)
		return -ENOENT;
	for (i = 0; i < s->n; i++)
		if (addr >= s->maps[i].start && addr < s->maps[i].end)
			return 1;
	for (i = 0; i < s->nanon; i++)
		if (addr >= s->anon[i].start && addr < s->anon[i].end)
			return 1;
	return 0;
}

bool ms_is_thread_start(const char *function)
{
	static const char *const starts[] = {
		"_start",
		"__libc_start_main",
		"__libc_start_call_main",
		"start_thread",
		"clone",
		"clone3",
		"__clone",
		"__clone3",
		"_dl_start_user", /* the dynamic loader, running constructors before _start */
		"_dl_start",
		"_start_c",
		"start_c",
		"libc_start_main_stage2", /* musl */
	};
	size_t i;

	for (i = 0; i < sizeof(starts) / sizeof(starts[0]); i++)
		if (!strcmp(function, starts[i]))
			return true;
	return false;
}

int ms_symcache_start(pid_t pid, uint64_t addr, void *cache)
{
	const struct map *m = map_of(cache, pid, addr);
	char name[512];
	bool unread;
	int r;

	if (!m)
		return -ENOENT;
	r = resolve(pid, addr, name, sizeof(name), NULL, 0, false, &unread, cache);
	if (r < 0)
		return r;
	if (r == 1) /* "object+0x1234": no symbol there, or no object to read any more */
		return unread || ms_is_libc_path(m->path) ? -ENODATA : 0;
	name[strcspn(name, "+ ")] = '\0';
	return ms_is_thread_start(name);
}
