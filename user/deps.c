/* deps.c: the shared objects a program loads before its first instruction, found as glibc's
 * dynamic loader (elf/dl-load.c) finds them */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "deps.h"
#include "elfsym.h"
#include "vec.h"

const char *const ms_deps_system_dirs[] = { "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu",
					    "/lib", "/usr/lib", NULL };

#define CACHE_MAX (64u << 20) /* bytes of the loader's cache read at most */

/* An object loaded: the program, or a shared object */
struct obj {
	char *path;	       /* as opened */
	char *name;	       /* as asked for (the program: its path) */
	char *soname;	       /* "" when none */
	char *rpath, *runpath; /* $ORIGIN expanded; NULL: none (or no entry left) */
	bool has_runpath;      /* then the loader reads no DT_RPATH of it */
	int loader;	       /* the object whose DT_NEEDED named it, -1: none */
	dev_t dev;
	ino_t ino;
	size_t nneeded;
	char (*needed)[MS_ELF_NAME_MAX];
};

struct walk {
	const struct ms_deps_env *env;
	struct obj *objs;
	size_t n, cap;
	uint8_t elfclass;
	uint16_t machine;
	char *cache; /* the loader's cache, read once (NULL: none or unreadable) */
	size_t cache_len;
	bool cache_read;
};

/* path's directory, absolute, into out (PATH_MAX bytes): $ORIGIN (the program's symbolic
 * links resolved, as the loader reads /proc/self/exe; a library's not, as the loader names
 * it) */
static void origin_of(const char *path, bool program, char *out)
{
	char buf[PATH_MAX], cwd[PATH_MAX], *slash;

	if (program && realpath(path, buf))
		snprintf(out, PATH_MAX, "%s", buf);
	else if (path[0] == '/' || !getcwd(cwd, sizeof(cwd)) ||
		 (size_t)snprintf(out, PATH_MAX, "%s/%s", cwd, path) >= PATH_MAX)
		snprintf(out, PATH_MAX, "%s", path);
	slash = strrchr(out, '/');
	if (slash)
		*(slash == out ? slash + 1 : slash) = '\0';
}

/* Whether c continues a name ($ORIGINX is no $ORIGIN) */
static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

/* The n bytes at s with $ORIGIN and ${ORIGIN} replaced by origin, into out; false when
 * they hold another substitution ($LIB, $PLATFORM) or do not fit */
static bool expand(const char *s, size_t n, const char *origin, char *out, size_t len)
{
	const char *e = s + n;
	size_t at = 0, k;

	while (s < e) {
		const char *rep = NULL;

		if (*s == '$') {
			if (e - s >= 7 && !strncmp(s, "$ORIGIN", 7) &&
			    (e - s == 7 || !name_char(s[7])))
				s += 7;
			else if (e - s >= 9 && !strncmp(s, "${ORIGIN}", 9))
				s += 9;
			else
				return false;
			rep = origin;
		}
		k = rep ? strlen(rep) : 1;
		if (at + k >= len)
			return false;
		memcpy(out + at, rep ? rep : s++, k);
		at += k;
	}
	out[at] = '\0';
	return true;
}

/* A DT_RPATH or DT_RUNPATH list with $ORIGIN expanded, the entries with another
 * substitution left out: a string to free, NULL when none is left (or no memory) */
static char *expanded_list(const char *list, const char *origin)
{
	char buf[2 * MS_ELF_PATHS_MAX], one[PATH_MAX];
	const char *p, *end;
	bool any = false;
	size_t n = 0, k;

	for (p = list;; p = end + 1) {
		end = strchrnul(p, ':');
		if (expand(p, end - p, origin, one, sizeof(one)) &&
		    n + (k = strlen(one)) + 2 <= sizeof(buf)) {
			if (any)
				buf[n++] = ':';
			memcpy(buf + n, one, k);
			n += k;
			any = true;
		}
		if (!*end)
			break;
	}
	buf[n] = '\0';
	return any ? strdup(buf) : NULL;
}

/* Whether path is an ELF object of the program's class and machine (else the loader passes
 * over it): its dynamic entries into dyn */
static bool usable(struct walk *w, const char *path, struct ms_elf_dynamic *dyn)
{
	return !ms_elf_dynamic(path, dyn) && dyn->elfclass == w->elfclass &&
	       dyn->machine == w->machine;
}

/* The cache's entry for name (glibc-ld.so.cache1.1: x86-64 libraries, hwcaps-free entries
 * first), into out */
static bool cache_lookup(struct walk *w, const char *name, char *out, size_t len)
{
	static const char old_magic[] = "ld.so-1.7.0", new_magic[] = "glibc-ld.so.cache1.1";
	const uint32_t x8664_libc6 = 0x0303; /* FLAG_ELF_LIBC6 | FLAG_X8664_LIB64 */
	bool any = false, hwcaps = false;    /* an entry found; only for a hwcaps subdirectory */
	size_t at = 0, i;
	uint32_t nlibs;
	const char *c;

	if (!w->cache_read) {
		int fd = open(w->env->cache ? w->env->cache : "/etc/ld.so.cache",
			      O_RDONLY | O_CLOEXEC);
		struct stat st;

		w->cache_read = true;
		if (fd >= 0 && !fstat(fd, &st) && S_ISREG(st.st_mode) && st.st_size > 0 &&
		    (uint64_t)st.st_size <= CACHE_MAX && (w->cache = malloc(st.st_size)) &&
		    pread(fd, w->cache, st.st_size, 0) == st.st_size)
			w->cache_len = st.st_size;
		if (fd >= 0)
			close(fd);
	}
	c = w->cache;
	if (!w->cache_len)
		return false;
	/* the old format, then the new one at an 8-byte boundary after it */
	if (w->cache_len >= 16 && !memcmp(c, old_magic, sizeof(old_magic) - 1)) {
		uint32_t n;

		memcpy(&n, c + 12, 4);
		at = (16 + (uint64_t)n * 12 + 7) & ~(uint64_t)7;
	}
	if (at > w->cache_len || w->cache_len - at < 48 ||
	    memcmp(c + at, new_magic, sizeof(new_magic) - 1))
		return false;
	c += at;
	memcpy(&nlibs, c + 20, 4);
	if (nlibs > (w->cache_len - at - 48) / 24)
		return false;
	for (i = 0; i < nlibs; i++) {
		const char *e = c + 48 + i * 24;
		uint32_t key, value;
		int32_t flags;
		uint64_t hwcap;

		memcpy(&flags, e, 4);
		memcpy(&key, e + 4, 4);
		memcpy(&value, e + 8, 4);
		memcpy(&hwcap, e + 16, 8);
		if ((uint32_t)flags != x8664_libc6 || key >= w->cache_len - at ||
		    value >= w->cache_len - at || !memchr(c + key, '\0', w->cache_len - at - key) ||
		    !memchr(c + value, '\0', w->cache_len - at - value) || strcmp(c + key, name))
			continue;
		if (!any || (hwcaps && hwcap == 0)) {
			snprintf(out, len, "%s", c + value);
			hwcaps = hwcap != 0;
			any = true;
		}
	}
	return any;
}

/* dir/name when it is usable, into out */
static bool try_dir(struct walk *w, const char *dir, size_t dlen, const char *name, char *out,
		    size_t len, struct ms_elf_dynamic *dyn)
{
	if (dlen == 0) /* an empty entry: the current directory */
		snprintf(out, len, "%s", name);
	else if ((size_t)snprintf(out, len, "%.*s/%s", (int)dlen, dir, name) >= len)
		return false;
	return usable(w, out, dyn);
}

/* The first usable dir/name of a colon-separated list (already expanded) */
static bool try_list(struct walk *w, const char *list, const char *name, char *out, size_t len,
		     struct ms_elf_dynamic *dyn)
{
	const char *p, *end;

	if (!list)
		return false;
	for (p = list;; p = end + 1) {
		end = strchrnul(p, ':');
		if (try_dir(w, p, end - p, name, out, len, dyn))
			return true;
		if (!*end)
			return false;
	}
}

/* Finds name as the loader would for object k (the program for LD_PRELOAD), into out, with
 * its dynamic entries into dyn */
static bool search(struct walk *w, const char *name, int k, char *out, size_t len,
		   struct ms_elf_dynamic *dyn)
{
	const struct obj *req = &w->objs[k];
	const char *const *dir;
	char cached[PATH_MAX];
	int l;

	if (strchr(name, '/'))
		return usable(w, name, dyn) && snprintf(out, len, "%s", name) < (int)len;
	/* DT_RPATH of the object and of those that loaded it, unless it has DT_RUNPATH (an
	 * object with DT_RUNPATH has no DT_RPATH for the loader) */
	if (!req->has_runpath)
		for (l = k; l >= 0; l = w->objs[l].loader)
			if (!w->objs[l].has_runpath &&
			    try_list(w, w->objs[l].rpath, name, out, len, dyn))
				return true;
	if (try_list(w, w->env->library_path, name, out, len, dyn))
		return true;
	if (try_list(w, req->runpath, name, out, len, dyn))
		return true;
	if (cache_lookup(w, name, cached, sizeof(cached)) && usable(w, cached, dyn))
		return snprintf(out, len, "%s", cached) < (int)len;
	for (dir = w->env->system_dirs ? w->env->system_dirs : ms_deps_system_dirs; *dir; dir++)
		if (try_dir(w, *dir, strlen(*dir), name, out, len, dyn))
			return true;
	return false;
}

/* Whether name is loaded already, by that name or as its DT_SONAME */
static bool loaded_as(const struct walk *w, const char *name)
{
	size_t i;

	for (i = 0; i < w->n; i++)
		if (!strcmp(w->objs[i].name, name) || !strcmp(w->objs[i].soname, name))
			return true;
	return false;
}

/* Adds the object at path (asked for as name, by loader) with its dynamic entries dyn;
 * -EEXIST when that file is loaded already */
static int add(struct walk *w, const char *path, const char *name, int loader,
	       const struct ms_elf_dynamic *dyn)
{
	char origin[PATH_MAX];
	struct obj o = { .loader = loader };
	struct stat st;
	size_t i;
	int err;

	if (stat(path, &st))
		return -errno;
	for (i = 0; i < w->n; i++)
		if (w->objs[i].dev == st.st_dev && w->objs[i].ino == st.st_ino)
			return -EEXIST;
	origin_of(path, !w->n, origin);
	o.dev = st.st_dev;
	o.ino = st.st_ino;
	o.path = strdup(path);
	o.name = strdup(name);
	o.soname = strdup(dyn->soname);
	o.rpath = dyn->has_rpath ? expanded_list(dyn->rpath, origin) : NULL;
	o.runpath = dyn->has_runpath ? expanded_list(dyn->runpath, origin) : NULL;
	o.has_runpath = dyn->has_runpath;
	o.nneeded = dyn->nneeded;
	o.needed = malloc(dyn->nneeded * sizeof(*o.needed) + 1);
	if (o.needed)
		memcpy(o.needed, dyn->needed, dyn->nneeded * sizeof(*o.needed));
	err = !o.path || !o.name || !o.soname || !o.needed ? -ENOMEM :
							     MS_VEC_PUSH(w->objs, w->n, w->cap, o);
	if (err) {
		free(o.path);
		free(o.name);
		free(o.soname);
		free(o.rpath);
		free(o.runpath);
		free(o.needed);
	}
	return err;
}

/* Loads name for object k unless it is there already */
static int load(struct walk *w, const char *name, int k, struct ms_elf_dynamic *dyn)
{
	char path[PATH_MAX];
	int err;

	if (w->n >= MS_DEPS_MAX || loaded_as(w, name) ||
	    !search(w, name, k, path, sizeof(path), dyn))
		return 0;
	err = add(w, path, name, k, dyn);
	return err == -EEXIST || err == -ENOENT ? 0 : err;
}

int ms_deps_find(const char *program, const struct ms_deps_env *env, struct ms_deps *out)
{
	struct walk w = { .env = env };
	struct ms_elf_dynamic *dyn = malloc(sizeof(*dyn));
	const char *p, *end;
	size_t i, k;
	int err;

	memset(out, 0, sizeof(*out));
	if (!dyn)
		return -ENOMEM;
	err = ms_elf_dynamic(program, dyn);
	if (!err) {
		w.elfclass = dyn->elfclass;
		w.machine = dyn->machine;
		err = add(&w, program, program, -1, dyn);
	}
	/* LD_PRELOAD's objects, named as the program would name them */
	for (p = env->preload; !err && p && *p; p = *end ? end + 1 : end) {
		char name[MS_ELF_NAME_MAX];

		end = p + strcspn(p, " :");
		if (end > p && (size_t)(end - p) < sizeof(name)) {
			snprintf(name, sizeof(name), "%.*s", (int)(end - p), p);
			err = load(&w, name, 0, dyn);
		}
	}
	/* breadth first: each object's DT_NEEDED in order, the objects in load order */
	for (i = 0; !err && i < w.n; i++)
		for (k = 0; !err && k < w.objs[i].nneeded; k++)
			err = load(&w, w.objs[i].needed[k], i, dyn);
	if (!err && w.n > 1) {
		out->path = calloc(w.n - 1, sizeof(*out->path));
		if (!out->path)
			err = -ENOMEM;
		for (i = 1; !err && i < w.n; i++) {
			out->path[i - 1] = w.objs[i].path;
			w.objs[i].path = NULL;
			out->n++;
		}
	}
	for (i = 0; i < w.n; i++) {
		free(w.objs[i].path);
		free(w.objs[i].name);
		free(w.objs[i].soname);
		free(w.objs[i].rpath);
		free(w.objs[i].runpath);
		free(w.objs[i].needed);
	}
	free(w.objs);
	free(w.cache);
	free(dyn);
	if (err)
		ms_deps_free(out);
	return err;
}

void ms_deps_free(struct ms_deps *d)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		free(d->path[i]);
	free(d->path);
	d->path = NULL;
	d->n = 0;
}
