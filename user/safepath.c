/* safepath.c: path resolution that never waits on a FUSE server */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include "safepath.h"
#include "vec.h"

#define SYMLINKS_MAX 40	 /* the kernel's own bound (MAXSYMLINKS) */
#define MOUNTS_MAX 65536 /* mounts remembered; past it the table starts over */

/*
 * Mounts seen in /proc/self/mountinfo and the traced processes' (mount ids are global
 * across namespaces), each with its device, so that an id the kernel gives again to
 * another mount is not mistaken for the old one.
 */
struct mount {
	uint64_t id;
	dev_t dev;
	bool fuse;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct mount *mounts;
static size_t nmounts, mounts_cap;
static bool trust_fuse;

void ms_path_trust_fuse(bool on)
{
	trust_fuse = on;
}

bool ms_path_fuse_trusted(void)
{
	return trust_fuse;
}

bool ms_path_fstype_fuse(const char *fstype)
{
	return !strcmp(fstype, "fuse") || !strcmp(fstype, "fuseblk") ||
	       !strncmp(fstype, "fuse.", 5);
}

static struct mount *mount_find(uint64_t id, dev_t dev)
{
	size_t i;

	for (i = 0; i < nmounts; i++)
		if (mounts[i].id == id && mounts[i].dev == dev)
			return &mounts[i];
	return NULL;
}

int ms_mountinfo_read(const char *file, ms_mount_fn fn, void *ctx)
{
	char *line = NULL, *sep, fstype[64];
	unsigned long long id;
	unsigned maj, mnr;
	size_t cap = 0;
	FILE *f = fopen(file, "re");

	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		/* ID PARENT MAJ:MIN ROOT POINT OPTIONS [TAGS...] - FSTYPE SOURCE SUPEROPTIONS */
		sep = strstr(line, " - ");
		if (!sep || sscanf(line, "%llu %*u %u:%u", &id, &maj, &mnr) != 3 ||
		    sscanf(sep + 3, "%63s", fstype) != 1)
			continue;
		fn(id, makedev(maj, mnr), fstype, ctx);
	}
	free(line);
	fclose(f);
	return 0;
}

/* ms_mount_fn: remembers a mount not known yet */
static void mount_add(uint64_t id, dev_t dev, const char *fstype, void *ctx)
{
	struct mount m = { id, dev, ms_path_fstype_fuse(fstype) };

	if (mount_find(id, dev))
		return;
	if (nmounts == MOUNTS_MAX)
		nmounts = 0; /* start over: the mounts asked about next are read again */
	MS_VEC_PUSH(mounts, nmounts, mounts_cap, m);
}

/*
 * Whether the file open at fd (O_PATH) is on a FUSE mount, asked without its server:
 * statx's mount id and device, the attributes from the cache (AT_STATX_DONT_SYNC). A
 * mount in neither this process' mountinfo nor pid's (0: none) counts as FUSE. Returns 1,
 * 0, or -errno.
 */
static int on_fuse(int fd, pid_t pid)
{
	struct mount *m;
	struct statx sx;
	char file[64];
	dev_t dev;

	if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC | AT_SYMLINK_NOFOLLOW,
		  STATX_TYPE | STATX_MNT_ID, &sx))
		return -errno;
	if (!(sx.stx_mask & STATX_MNT_ID))
		return 0; /* before Linux 5.8: no way to tell */
	dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
	pthread_mutex_lock(&lock);
	m = mount_find(sx.stx_mnt_id, dev);
	if (!m) {
		ms_mountinfo_read("/proc/self/mountinfo", mount_add, NULL);
		if (pid > 0) {
			snprintf(file, sizeof(file), "/proc/%d/mountinfo", (int)pid);
			ms_mountinfo_read(file, mount_add, NULL);
		}
		m = mount_find(sx.stx_mnt_id, dev);
	}
	fd = !m || m->fuse;
	pthread_mutex_unlock(&lock);
	return fd;
}

/* fd, when it is a regular file not on FUSE: fstat'ed into st; else closed, -errno */
static int pinned(int fd, pid_t pid, bool check, struct stat *st)
{
	int err = check && !trust_fuse ? on_fuse(fd, pid) : 0;

	if (err > 0)
		err = -EXDEV;
	else if (!err && fstat(fd, st))
		err = -errno;
	else if (!err && !S_ISREG(st->st_mode))
		err = -ENOEXEC;
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

/* "/proc/N/" + what: N (a pid, not "self"), and where what's rest begins; else 0 */
static pid_t proc_entry(const char *path, const char *what, const char **rest)
{
	char *end;
	long pid;

	if (strncmp(path, "/proc/", 6))
		return 0;
	pid = strtol(path + 6, &end, 10);
	if (end == path + 6 || pid <= 0 || pid > INT_MAX || strncmp(end, what, strlen(what)))
		return 0;
	*rest = end + strlen(what);
	return pid;
}

/*
 * Walks rest (relative) from cur, inside root: one component at a time, each checked not
 * to be on FUSE before the next is looked up in it. Takes cur; returns the last
 * component's descriptor or -errno.
 */
static int walk(int root, int cur, const char *rest, pid_t pid)
{
	char *buf = malloc(2 * PATH_MAX), *comp, *p, link[PATH_MAX];
	int links = 0, next, err = 0;
	size_t n;
	ssize_t k;

	if (!buf) {
		close(cur);
		return -ENOMEM;
	}
	snprintf(buf, 2 * PATH_MAX, "%s", rest);
	p = buf;
	while (*p) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		comp = p;
		n = strcspn(p, "/");
		p += n;
		if (*p)
			*p++ = '\0';
		if (!strcmp(comp, "."))
			continue;
		next = openat(cur, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0) {
			err = -errno;
			break;
		}
		/* ".." out of root stays at root, as in a chroot */
		if (!strcmp(comp, "..")) {
			struct stat a, b;

			if (!fstat(cur, &a) && !fstat(root, &b) && a.st_dev == b.st_dev &&
			    a.st_ino == b.st_ino) {
				close(next);
				continue;
			}
		}
		err = trust_fuse ? 0 : on_fuse(next, pid);
		if (err) {
			close(next);
			err = err > 0 ? -EXDEV : err;
			break;
		}
		k = readlinkat(next, "", link, sizeof(link) - 1);
		if (k < 0) {
			close(cur);
			cur = next;
			continue;
		}
		/* a symbolic link: its target, then what was left, from root when absolute */
		close(next);
		if (++links > SYMLINKS_MAX || (size_t)k + strlen(p) + 2 > 2 * PATH_MAX) {
			err = -ELOOP;
			break;
		}
		link[k] = '\0';
		memmove(buf + k + 1, p, strlen(p) + 1);
		memcpy(buf, link, k);
		buf[k] = '/';
		p = buf;
		if (link[0] == '/') {
			close(cur);
			cur = fcntl(root, F_DUPFD_CLOEXEC, 0);
			if (cur < 0) {
				err = -errno;
				break;
			}
		}
	}
	free(buf);
	if (err) {
		if (cur >= 0)
			close(cur);
		return err;
	}
	return cur;
}

int ms_path_pin(const char *path, struct stat *st)
{
	const char *rest = NULL;
	struct stat tmp;
	char dir[64];
	int root, cur, err;
	pid_t pid;

	st = st ? st : &tmp;
	/* links the kernel follows to the file itself (no lookup on its file system):
	 * /proc/self/fd/N, /proc/PID/map_files/RANGE, /proc/PID/exe */
	if (!strncmp(path, "/proc/self/fd/", 14)) {
		/* a file this process pinned, and so checked, before */
		cur = open(path, O_PATH | O_CLOEXEC);
		return cur < 0 ? -errno : pinned(cur, 0, false, st);
	}
	pid = proc_entry(path, "/map_files/", &rest);
	if (!pid && (pid = proc_entry(path, "/exe", &rest)) && *rest)
		pid = 0;
	if (pid) {
		cur = open(path, O_PATH | O_CLOEXEC);
		return cur < 0 ? -errno : pinned(cur, pid, true, st);
	}
	pid = proc_entry(path, "/root/", &rest);
	if (pid) {
		snprintf(dir, sizeof(dir), "/proc/%d/root", (int)pid);
	} else {
		rest = path;
		snprintf(dir, sizeof(dir), "/");
	}
	root = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return -errno;
	err = trust_fuse ? 0 : on_fuse(root, pid);
	if (err) {
		close(root);
		return err > 0 ? -EXDEV : err;
	}
	cur = path[0] == '/' || pid ? fcntl(root, F_DUPFD_CLOEXEC, 0) :
				      open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (cur < 0) {
		err = -errno;
		close(root);
		return err;
	}
	cur = walk(root, cur, rest, pid);
	close(root);
	return cur < 0 ? cur : pinned(cur, pid, false, st);
}
