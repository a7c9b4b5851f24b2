/* safepath.h: files a traced process can name, pinned without waiting on anyone */
#ifndef MS_SAFEPATH_H
#define MS_SAFEPATH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

/*
 * Resolves path one component at a time (O_PATH, nothing opened for reading) and pins the
 * regular file it names, without ever asking a FUSE server: every component's mount is
 * looked up (statx's mount id, attributes from the cache) before anything below it is, and
 * a path that enters a FUSE mount fails with -EXDEV. A FUSE server, which may be the traced
 * user (fusermount, a user namespace), can leave any lookup, stat or read waiting for
 * good. Under /proc/PID/root/ the path is resolved inside that root (its absolute symbolic
 * links too); /proc/PID/map_files/ and /proc/self/fd/ links are followed by the kernel and
 * their target checked. Fills st when not NULL. Returns the descriptor (read the file
 * through "/proc/self/fd/N"), -ENOEXEC when it is no regular file, or -errno.
 */
int ms_path_pin(const char *path, struct stat *st);

/* Whether FUSE file systems are read like any other (--trust-fuse); default: not */
void ms_path_trust_fuse(bool on);
bool ms_path_fuse_trusted(void);

/* Whether fstype (as /proc/PID/mountinfo spells it) is FUSE's: fuse, fuseblk, fuse.NAME */
bool ms_path_fstype_fuse(const char *fstype);

/* Calls fn for each mount of a mountinfo file (/proc/PID/mountinfo): its id, device and
 * file system type. Returns 0, or -errno when the file cannot be read. */
typedef void (*ms_mount_fn)(uint64_t id, dev_t dev, const char *fstype, void *ctx);
int ms_mountinfo_read(const char *file, ms_mount_fn fn, void *ctx);

#endif
