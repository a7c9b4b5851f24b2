/* record.h: the raw event stream to a file (--record) and back (--replay) */
#ifndef MS_RECORD_H
#define MS_RECORD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "memscope.h"

struct ms_catalog;

/*
 * A zlib (gzip) stream: a header naming the format version, the record size and the
 * host, then frames of a 4-byte tag and a 4-byte length: function definitions (so that
 * by_func names survive), process names, the BPF loss counters, batches of raw
 * struct ms_event records exactly as the ring buffer delivered them, and with --stacks
 * each stack site's frames as the live run names them (after the record that made it).
 */
#define MS_RECORD_VERSION 2

#define MS_RECORD_STACKS 0x1	 /* the header's flags: recorded with --stacks, sites' frames */
#define MS_RECORD_FRAME_LEN 128	 /* a frame's text in a site frame */
#define MS_RECORD_FRAMES_MAX 128 /* frames of one site */

struct ms_recorder;

/* Creates FILE and writes the header; NULL with errno set on failure. The allocators and
 * functions of cat (which outlives the recorder) are written before the first event
 * that may name them. */
struct ms_recorder *ms_recorder_open(const char *path, const struct ms_catalog *cat,
				     uint32_t flags);

/* Appends one event (buffered; no system call in the steady state). Returns 0 or -errno. */
int ms_recorder_event(struct ms_recorder *r, const struct ms_event *e);

/* How a process is shown (ms_proc's listed and pinned), carried by a comm frame */
#define MS_PROC_LISTED 0x1
#define MS_PROC_PINNED 0x2

/* Records the name of a process and how it is shown, and the current loss counters */
int ms_recorder_comm(struct ms_recorder *r, pid_t pid, const char *comm, uint32_t flags);
int ms_recorder_lost(struct ms_recorder *r, const uint64_t lost_by[MS_CNT_MAX]);

/* --sample-bytes: the mean gap of the sample the recording's sites weigh; right after
 * ms_recorder_open, before any record. Returns 0 or -errno */
int ms_recorder_sampling(struct ms_recorder *r, uint64_t sample_bytes);

/* The frames of a stack site of pid (stack_id, caller), innermost first, as the live run
 * shows them; truncated as sites.h says. Written once per site, after the record that
 * made it, so that a replay shows the same sites without the binaries. Returns 0 or -errno */
int ms_recorder_site(struct ms_recorder *r, pid_t pid, int32_t stack_id, uint64_t caller,
		     bool truncated, const char (*frames)[MS_RECORD_FRAME_LEN], unsigned n);

/* Flushes and closes; returns 0 or -errno (a write error seen earlier included) */
int ms_recorder_close(struct ms_recorder *r);

/* What a replay hands back, one frame element at a time */
struct ms_replay_fns {
	void (*event)(const struct ms_event *e, void *ctx);
	void (*comm)(pid_t pid, const char *comm, uint32_t flags, void *ctx);
	void (*lost)(const uint64_t lost_by[MS_CNT_MAX], void *ctx);
	void (*site)(pid_t pid, int32_t stack_id, uint64_t caller, bool truncated,
		     const char (*frames)[MS_RECORD_FRAME_LEN], unsigned n, void *ctx);
};

struct ms_replay_info {
	char host[65];
	char kernel[65];
	char damage[128];      /* -EBADMSG: where and what ("record 12: function 9 of 3") */
	uint32_t flags;	       /* MS_RECORD_STACKS: set before the first element is handed back */
	uint64_t end_ns;       /* when the recording ended (the records' clock), 0 when unknown */
	uint64_t sample_bytes; /* --sample-bytes of the recording (before its first record) */
};

/*
 * Reads a recording, adding its allocators and functions to cat (a new catalog: the
 * recording's ids must come next), and calls fns for every element in order. Each record is checked before it is handed on: a type and flags
 * the BPF programs write, for an allocator's record a function of its kind that the
 * recording defined before it (and, nested, the enclosing one), a node below
 * MS_MAX_NODES, a depth of at most MS_MAX_DEPTH, a release of an address; a record
 * that fails ends the replay as damage does. Returns 0, -ENOEXEC for a file that is
 * not a recording (or of another version), -EBADMSG for a corrupt or truncated one
 * (what came before the damage has been handed back, info->damage says where and
 * what), or -errno. info may be NULL. O(1) per record, a frame of at most 256 KiB in
 * memory.
 */
int ms_replay(const char *path, struct ms_catalog *cat, const struct ms_replay_fns *fns, void *ctx,
	      struct ms_replay_info *info);

#endif
