/* symcache.h: call sites to function names, through each process' mapped objects */
#ifndef MS_SYMCACHE_H
#define MS_SYMCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "procmaps.h"

struct ms_symcache;

struct ms_symcache *ms_symcache_new(void);
void ms_symcache_free(struct ms_symcache *c);

/*
 * Takes a copy of a process' executable mappings (maps, read by ms_maps_read), so that
 * its addresses can be resolved after it exits (or execs): each with its file's
 * identity (device and inode), which a path must still lead to for the file to be
 * read. Replaces an older copy, but for mappings of nothing (a process that is exiting).
 * Returns 0 or -errno. A process without a copy gets one
 * when its first address is resolved.
 */
int ms_symcache_snapshot(struct ms_symcache *c, const struct ms_maps *maps);

/* Drops pid's copy */
void ms_symcache_forget(struct ms_symcache *c, pid_t pid);

/* Whether a function name is one a thread starts in: the C library's _start,
 * __libc_start_main, __libc_start_call_main, start_thread, clone and clone3 (glibc), the
 * dynamic loader's _dl_start_user (constructors run before _start), and musl's */
bool ms_is_thread_start(const char *function);

/*
 * "function+0x1c (file.c:42)" for address addr of pid (through its copy, taken now if
 * there is none): returns 0; "object+0x1234" when no symbol covers it, or when neither
 * its path nor /proc/PID/map_files leads to the mapped file any more: returns 1; -ENOENT
 * when addr is in no mapped object. The file is read without blocking, whatever the
 * process put at its path (a FIFO). Matches ms_symbolize_fn (ctx: the cache).
 */
int ms_symcache_resolve(pid_t pid, uint64_t addr, char *name, size_t len, void *cache);

#define MS_FRAME_LEN 128 /* a frame as text, its end cut when longer */

/*
 * The frames of address addr of pid, innermost first: a frame for each call inlined at
 * addr ("function (file:line)", as addr2line -i shows them), then ms_symcache_resolve's
 * frame of the function they are in (the line of its outermost inlined call). At most
 * max frames (past it, the innermost inlined calls and the function). Returns how many, or
 * -ENOENT as ms_symcache_resolve. Matches ms_frames_of_fn (output.h).
 */
int ms_symcache_frames(pid_t pid, uint64_t addr, char (*frames)[MS_FRAME_LEN], unsigned max,
		       void *cache);

#define MS_FRAME_PATH_LEN 512 /* a frame with its file's whole path */

/* ms_symcache_frames with each file's whole path, "function (/src/app/file.c:42)" (for
 * pprof's source views) */
int ms_symcache_frames_path(pid_t pid, uint64_t addr, char (*frames)[MS_FRAME_PATH_LEN],
			    unsigned max, void *cache);

/*
 * The object that holds address addr of pid (through its copy, taken now if there is
 * none): a path that leads to the mapped file now into path (through /proc/PID/root while
 * pid lives, else as it was mapped; /proc/PID/map_files/START-END when that path names
 * another file now): 0; -ENOENT when no mapped object holds it or no path leads to it.
 * Matches ms_object_fn.
 */
int ms_symcache_object(pid_t pid, uint64_t addr, char *path, size_t len, void *cache);

#define MS_BUILD_ID_HEX 81 /* a build-id in hex (40 bytes at most) and its NUL */

/* The mapping of an object: where it is, what file, which build */
struct ms_symcache_mapping {
	uint64_t start, end, offset;
	const char *path;     /* as the process mapped it (the cache's: valid until it forgets) */
	const char *build_id; /* its GNU build-id in hex, "" when it has none or cannot be read */
};

/*
 * The mapped object that holds address addr of pid (through its copy, taken now if there
 * is none) into out: 0, or -ENOENT when no mapped object holds it. Its build-id is read
 * from the file once (without blocking, as ms_symcache_resolve reads it).
 */
int ms_symcache_mapping(pid_t pid, uint64_t addr, struct ms_symcache_mapping *out, void *cache);

/*
 * Whether addr is code in pid: in one of its executable mappings, a file's or anonymous
 * (JIT code, the vDSO), as its copy has them (taken now if there is none): 1 or 0;
 * -ENOENT when there is no copy and none can be taken (the process is gone).
 */
int ms_symcache_code(pid_t pid, uint64_t addr, void *cache);

/*
 * Whether addr of pid is in a function a thread starts in (ms_is_thread_start): 1 or 0;
 * -ENOENT when it is in no mapped object, -ENODATA when it cannot be told: no symbol names
 * it there and it is in the C library (where those functions are, unnamed when the library
 * is stripped), or its object cannot be read any more (the process gone, and the file at
 * its path deleted or replaced).
 */
int ms_symcache_start(pid_t pid, uint64_t addr, void *cache);

#endif
