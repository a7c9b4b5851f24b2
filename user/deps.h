/* deps.h: the shared objects a program loads before its first instruction, found as glibc's
 * dynamic loader finds them (--in-process: which allocators the command loads) */
#ifndef MS_DEPS_H
#define MS_DEPS_H

#include <stddef.h>

#define MS_DEPS_MAX 1024 /* objects followed; past it the rest are left out */

/* Where the loader looks: the command's environment and the system's files */
struct ms_deps_env {
	const char *preload;		/* LD_PRELOAD (NULL: unset) */
	const char *library_path;	/* LD_LIBRARY_PATH (NULL: unset) */
	const char *cache;		/* the loader's cache (NULL: /etc/ld.so.cache) */
	const char *const *system_dirs; /* NULL-terminated (NULL: the loader's, below) */
};

/* glibc's system search path on Debian's x86-64 (ld.so --help) */
extern const char *const ms_deps_system_dirs[];

struct ms_deps {
	size_t n;
	char **path; /* each object as the loader opens it, in load order */
};

/*
 * The objects the ELF executable program loads at its start: env->preload's (separated by
 * spaces or colons), then its DT_NEEDED and theirs, breadth first. A name without a slash
 * is searched as the loader searches it for the object that needs it: the DT_RPATH of that
 * object and of the ones that loaded it (when it has no DT_RUNPATH), LD_LIBRARY_PATH, its
 * DT_RUNPATH, the cache, the system directories; $ORIGIN and ${ORIGIN} expanded (a path
 * entry with another substitution is skipped); a file of another class or machine passed
 * over. A name already loaded (by that name or its DT_SONAME, or the same file) is not
 * loaded twice; a name found nowhere is left out (the loader would refuse to start).
 * Not followed: the hwcaps subdirectories, DF_1_NODEFLIB. Returns 0 or -errno (-ENOEXEC:
 * program is not a readable ELF file). The result is freed with ms_deps_free.
 */
int ms_deps_find(const char *program, const struct ms_deps_env *env, struct ms_deps *out);

void ms_deps_free(struct ms_deps *d);

#endif
