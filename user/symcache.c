/* symcache.c: per-process copies of the executable mappings, resolved with ELF symbols */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "elfsym.h"
#include "procmaps.h"
#include "symcache.h"
#include "symbolizer.h"

struct map {
	uint64_t start, end, offset;
	char *path; /* as the process maps it */
};

struct snap {
	pid_t pid;
	struct map *maps;
	size_t n;
};

struct ms_symcache {
	struct snap *v;
	size_t n;
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
	s->maps = NULL;
	s->n = 0;
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
	struct map *v = realloc(s->maps, (s->n + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	s->maps = v;
	v[s->n].start = m->start;
	v[s->n].end = m->end;
	v[s->n].offset = m->offset;
	v[s->n].path = strdup(m->path);
	if (!v[s->n].path)
		return -ENOMEM;
	s->n++;
	return 0;
}

int ms_symcache_snapshot(struct ms_symcache *c, pid_t pid)
{
	struct snap fresh = { .pid = pid }, *s;
	int err;

	err = ms_maps_for_each_exec("/proc", pid, add_map, &fresh);
	if (err) {
		snap_clear(&fresh);
		return err;
	}
	s = find(c, pid);
	if (!s) {
		struct snap *v = realloc(c->v, (c->n + 1) * sizeof(*v));

		if (!v) {
			snap_clear(&fresh);
			return -ENOMEM;
		}
		c->v = v;
		s = &c->v[c->n++];
		memset(s, 0, sizeof(*s));
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

int ms_symcache_resolve(pid_t pid, uint64_t addr, char *name, size_t len, void *cache)
{
	struct ms_symcache *c = cache;
	struct snap *s = find(c, pid);
	char path[PATH_MAX], fn[256];
	uint64_t off, into;
	size_t i;

	if (!s && ms_symcache_snapshot(c, pid) == 0)
		s = find(c, pid);
	for (i = 0; s && i < s->n; i++) {
		const struct map *m = &s->maps[i];
		const char *base;

		if (addr < m->start || addr >= m->end)
			continue;
		off = addr - m->start + m->offset;
		/* through the process' root while it lives, else the path as mapped */
		snprintf(path, sizeof(path), "/proc/%d/root%s", (int)pid, m->path);
		if (access(path, R_OK))
			snprintf(path, sizeof(path), "%s", m->path);
		if (c->sym && off > 0) {
			struct ms_frame_info f;

			/* a return address: the call is the byte before it (its line) */
			if (!ms_symbolizer_resolve(c->sym, path, off - 1, &f)) {
				f.offset++;
				ms_frame_format(&f, true, name, len);
				return f.function[0] ? 0 : 1;
			}
		}
		if (!ms_elf_symbolize(path, off, fn, sizeof(fn), &into)) {
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
	return -ENOENT;
}
