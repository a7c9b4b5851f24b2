/* procmaps.c: /proc/PID/maps parsing */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include "procmaps.h"
#include "safepath.h"
#include "vec.h"

static int parse_hex(const char **s, uint64_t *v)
{
	char *end;

	errno = 0;
	*v = strtoull(*s, &end, 16);
	if (end == *s || errno)
		return -EINVAL;
	*s = end;
	return 0;
}

int ms_maps_parse_line(char *line, struct ms_mapping *m)
{
	static const char deleted[] = " (deleted)";
	const char *s = line;
	uint64_t major, minor;
	char *end;
	size_t n;

	memset(m, 0, sizeof(*m));
	n = strcspn(line, "\n");
	line[n] = '\0';
	if (parse_hex(&s, &m->start) || *s++ != '-' || parse_hex(&s, &m->end) || *s++ != ' ')
		return -EINVAL;
	if (strlen(s) < 5 || s[4] != ' ')
		return -EINVAL;
	m->exec = s[2] == 'x';
	s += 5;
	if (parse_hex(&s, &m->offset) || *s++ != ' ')
		return -EINVAL;
	if (parse_hex(&s, &major) || *s++ != ':' || parse_hex(&s, &minor) || *s++ != ' ')
		return -EINVAL;
	m->dev_major = major;
	m->dev_minor = minor;
	errno = 0;
	m->inode = strtoull(s, &end, 10);
	if (end == s || errno || (*end != ' ' && *end != '\0'))
		return -EINVAL;
	s = end;
	while (*s == ' ')
		s++;
	m->path = s;
	n = strlen(s);
	if (n > sizeof(deleted) - 1 && !strcmp(s + n - (sizeof(deleted) - 1), deleted)) {
		m->deleted = true;
		line[(s - line) + n - (sizeof(deleted) - 1)] = '\0';
	}
	return 0;
}

/*
 * FUSE: every read of a file on it, even a stat, waits for its server, which may be the
 * traced user's (fusermount, a user namespace) and may never answer. Its mappings are not
 * read unless the user trusts FUSE servers (--trust-fuse, ms_path_trust_fuse); each
 * skipped device is said once.
 */
#define SAID_MAX 64

/* Says once per device (up to SAID_MAX of them) that mapping m of pid is not read */
static void say_skipped(pid_t pid, const struct ms_mapping *m, const char *fstype)
{
	static dev_t said[SAID_MAX];
	static size_t nsaid;
	dev_t dev = makedev(m->dev_major, m->dev_minor);
	size_t i;

	for (i = 0; i < nsaid; i++)
		if (said[i] == dev)
			return;
	if (nsaid < SAID_MAX)
		said[nsaid++] = dev;
	fprintf(stderr,
		"memscope-bpf: pid %d: not reading %s: it is on a FUSE file system (%s), whose "
		"server can stop any reader (--trust-fuse reads it)\n",
		(int)pid, m->path, fstype);
}

struct mounts {
	bool loaded;
	size_t n, cap;
	struct mount_ent {
		dev_t dev;
		char fstype[40];
	} * v;
};

/* ms_mount_fn: collects the FUSE mounts */
static void add_fuse(uint64_t id, dev_t dev, const char *fstype, void *ctx)
{
	struct mounts *ms = ctx;

	if (!ms_path_fstype_fuse(fstype))
		return;
	if (MS_VEC_RESERVE(ms->v, ms->cap, ms->n + 1))
		return;
	ms->v[ms->n].dev = dev;
	snprintf(ms->v[ms->n].fstype, sizeof(ms->v[ms->n].fstype), "%s", fstype);
	ms->n++;
}

/* The FUSE mounts of pid's mount namespace, from its mountinfo (read once per walk) */
static void mounts_load(const char *proc_root, pid_t pid, struct mounts *ms)
{
	char path[64];

	ms->loaded = true;
	snprintf(path, sizeof(path), "%s/%d/mountinfo", proc_root, (int)pid);
	ms_mountinfo_read(path, add_fuse, ms);
}

static const char *fuse_type(const struct mounts *ms, const struct ms_mapping *m)
{
	dev_t dev = makedev(m->dev_major, m->dev_minor);
	size_t i;

	for (i = 0; i < ms->n; i++)
		if (ms->v[i].dev == dev)
			return ms->v[i].fstype;
	return NULL;
}

/* Calls fn for the file-backed executable mappings, anon (when set) for the others that
 * are executable (JIT code, the vDSO) */
static int walk(const char *proc_root, pid_t pid, ms_maps_fn fn, ms_maps_fn anon, void *ctx)
{
	char path[64], *line = NULL;
	struct mounts ms = { 0 };
	const char *fstype;
	size_t cap = 0;
	struct ms_mapping m;
	FILE *f;
	int err = 0;

	snprintf(path, sizeof(path), "%s/%d/maps", proc_root, (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		if (ms_maps_parse_line(line, &m) || !m.exec)
			continue;
		if (m.inode == 0 || m.path[0] != '/') {
			if (anon && (err = anon(&m, ctx)))
				break;
			continue;
		}
		if (!ms_path_fuse_trusted()) {
			if (!ms.loaded)
				mounts_load(proc_root, pid, &ms);
			fstype = fuse_type(&ms, &m);
			if (fstype) {
				/* still code, whose file is not read: as JIT code is */
				say_skipped(pid, &m, fstype);
				if (anon && (err = anon(&m, ctx)))
					break;
				continue;
			}
		}
		err = fn(&m, ctx);
		if (err)
			break;
	}
	free(ms.v);
	free(line);
	fclose(f);
	return err;
}

int ms_maps_for_each_exec(const char *proc_root, pid_t pid, ms_maps_fn fn, void *ctx)
{
	return walk(proc_root, pid, fn, NULL, ctx);
}

static int keep(const struct ms_mapping *m, void *ctx)
{
	struct ms_maps *maps = ctx;
	struct ms_mapping c = *m;

	c.path = strdup(m->path);
	if (!c.path || MS_VEC_PUSH(maps->v, maps->n, maps->cap, c)) {
		free((char *)c.path);
		return -ENOMEM;
	}
	return 0;
}

static int keep_anon(const struct ms_mapping *m, void *ctx)
{
	struct ms_maps *maps = ctx;
	struct ms_range r = { m->start, m->end };

	return MS_VEC_PUSH(maps->anon, maps->nanon, maps->cap_anon, r);
}

int ms_maps_read(const char *proc_root, pid_t pid, struct ms_maps *maps)
{
	int err;

	ms_maps_free(maps);
	maps->pid = pid;
	err = walk(proc_root, pid, keep, keep_anon, maps);
	if (err)
		ms_maps_free(maps);
	return err == -ENOENT ? -ESRCH : err;
}

int ms_maps_each(const struct ms_maps *maps, ms_maps_fn fn, void *ctx)
{
	size_t i;
	int err;

	for (i = 0; i < maps->n; i++) {
		err = fn(&maps->v[i], ctx);
		if (err)
			return err;
	}
	return 0;
}

void ms_maps_free(struct ms_maps *maps)
{
	size_t i;

	for (i = 0; i < maps->n; i++)
		free((char *)maps->v[i].path);
	free(maps->v);
	free(maps->anon);
	maps->v = NULL;
	maps->anon = NULL;
	maps->n = maps->cap = maps->nanon = maps->cap_anon = 0;
}

bool ms_maps_same_file(const struct stat *st, unsigned dev_major, unsigned dev_minor,
		       uint64_t inode)
{
	return st->st_dev == makedev(dev_major, dev_minor) && (uint64_t)st->st_ino == inode;
}

/* path, resolved without asking a FUSE server, when it is a regular file: an O_PATH
 * descriptor, -ESTALE when it is another kind of file now, or -errno */
static int pin_regular(const char *path, struct stat *st)
{
	int fd = ms_path_pin(path, st);

	return fd == -ENOEXEC ? -ESTALE : fd;
}

int ms_maps_pin(const char *proc_root, pid_t pid, const struct ms_mapping *m, struct stat *st)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%d/map_files/%" PRIx64 "-%" PRIx64, proc_root, (int)pid,
		 m->start, m->end);
	fd = pin_regular(path, st);
	if (fd >= 0 || fd == -ESTALE || m->deleted || m->path[0] != '/')
		return fd;
	/* no map_files (no CAP_SYS_ADMIN): the path, checked against the mapping */
	if ((size_t)snprintf(path, sizeof(path), "%s/%d/root%s", proc_root, (int)pid, m->path) >=
	    sizeof(path))
		return -ENAMETOOLONG;
	fd = pin_regular(path, st);
	if (fd >= 0 && !ms_maps_same_file(st, m->dev_major, m->dev_minor, m->inode)) {
		close(fd);
		return -ESTALE;
	}
	return fd;
}
