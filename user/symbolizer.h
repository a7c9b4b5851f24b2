/* symbolizer.h: file offsets in ELF objects to function+offset and file:line, cached per build-id */
#ifndef MS_SYMBOLIZER_H
#define MS_SYMBOLIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * One symbolizer serves every process: objects are identified by their GNU build-id
 * (read once per file identity), and each build-id gets one libdwfl module, so a
 * thousand processes of one binary cost one symbol table. Objects without a build-id
 * are identified by (st_dev, st_ino, st_size, st_mtime).
 *
 * Memory is bounded by these defaults (see ms_symbolizer_set_limits):
 */
#define MS_SYM_ADDR_MAX 65536	      /* resolved addresses cached, least recently used out */
#define MS_SYM_ADDR_BYTES (16u << 20) /* and at most this many bytes of them (names, paths) */
#define MS_SYM_MODULES_MAX 64	      /* objects kept open (symbol table, DWARF), LRU out */
#define MS_SYM_FILES_MAX 4096	      /* file identity -> build-id entries, cleared when full */

/*
 * Debug information comes from the object itself or from a separate file found by
 * build-id (DIR/.build-id/xx/yyyy.debug for each absolute DIR of the debug path) or
 * by .gnu_debuglink, as libdwfl's dwfl_standard_find_debuginfo does it; for a path
 * under /proc/PID/root/ that root's /usr/lib/debug is searched too. libdwfl also asks
 * debuginfod servers when DEBUGINFOD_URLS is set in the environment (slow on first use).
 *
 * Not thread-safe: one thread at a time per symbolizer.
 */

struct ms_frame_info {
	char function[512]; /* demangled (C++ and Rust), "" when unknown */
	uint64_t offset;    /* bytes into the function; when function is "", into the file */
	char file[512];	    /* source file as the DWARF names it, "" without debug info */
	int line;	    /* 0 without debug info */
	char object[256];   /* the object's file name (basename) */
	/* the calls inlined at the address, innermost first, each "function (file:line)" and
	 * a newline, as addr2line -i shows them (the file's whole path, as file above);
	 * function and line above are then the function they were inlined into and the line
	 * of its outermost inlined call */
	char inlined[2048];
};

struct ms_symbolizer;

struct ms_symbolizer_stats {
	uint64_t resolves;	  /* ms_symbolizer_resolve_as calls */
	uint64_t addr_hits;	  /* of those, answered from the address cache */
	uint64_t errors;	  /* of those, that returned an error */
	uint64_t file_opens;	  /* objects opened (build-id read, or module loaded) */
	uint64_t modules_loaded;  /* symbol tables loaded: one per build-id while cached */
	uint64_t modules_evicted; /* dropped for MS_SYM_MODULES_MAX */
	uint64_t addr_evicted;	  /* address entries dropped for the address limits */
	uint64_t addr_cached;	  /* address entries held now */
	uint64_t modules_cached;  /* modules held now */
	uint64_t faults;	  /* answers failed as a file under libdw shrank (SIGBUS) */
};

/* A symbolizer with empty caches and the default debug path. NULL + errno on failure. */
struct ms_symbolizer *ms_symbolizer_new(void);

/* Frees everything; accepts NULL */
void ms_symbolizer_free(struct ms_symbolizer *s);

/*
 * Where separate debug files are searched, in libdwfl's debuginfo_path syntax
 * ("-:.debug:/usr/lib/debug", the default when path is NULL): applies to objects
 * loaded from now on. Returns 0 or -ENOMEM.
 */
int ms_symbolizer_set_debug_path(struct ms_symbolizer *s, const char *path);

/*
 * Replaces the bounds on the address cache (entries) and the module cache (objects);
 * 0 keeps the default. Empties the address cache. Returns 0 or -ENOMEM.
 */
int ms_symbolizer_set_limits(struct ms_symbolizer *s, size_t addr_max, size_t modules_max);

/*
 * Resolves an address of the object opened at path ("/proc/self/fd/N" of a pinned file,
 * "/proc/PID/map_files/START-END", or a path, "/proc/PID/root/usr/lib/libx.so" for
 * another mount namespace) and named name: out->object is name's basename, and separate
 * debug files are searched as if the object were at name (its directory for
 * .gnu_debuglink, its /proc/PID/root/usr/lib/debug). file_off: the address as an offset
 * into the file (address - mapping start + mapping file offset); for a return address,
 * pass the offset of the call instruction (file_off - 1) to get the caller's line. Every
 * file is opened without blocking, and only a regular file (a FIFO put at a debug path
 * is never opened). Returns 0 (out filled; function may be "" when no symbol covers
 * it), or -errno: -ENOENT and the like when path cannot be opened, -ENOEXEC when it is
 * not an ELF executable or shared object (truncated, corrupt), -EFBIG for an object past
 * the bounds of elfsym.h. Cost: a stat() when cached; else a symbol and line table
 * lookup, loading the object's tables on its first use.
 */
int ms_symbolizer_resolve_as(struct ms_symbolizer *s, const char *path, const char *name,
			     uint64_t file_off, struct ms_frame_info *out);

/*
 * "function+0x12 (file.c:42)" style one-line rendering used by reports and folded
 * stacks: "+0x.." only for a nonzero offset, the line only when with_line and known,
 * "object+0xFILEOFF" when the function is unknown, "[unknown]" when nothing is.
 */
void ms_frame_format(const struct ms_frame_info *f, bool with_line, char *buf, size_t len);

/* The parts of a frame as ms_frame_format writes it ("function+0x12 (file.c:42)",
 * "object+0x12", "0x12"): frame[0 .. fn_len) is the function (or object) without its
 * offset; frame[file_at .. file_at + file_len) the file, line its line (file_len 0, line 0:
 * none); frame[where ..] the " (file.c:42)" (the string's end when none) */
struct ms_frame_parts {
	size_t fn_len, file_at, file_len, where;
	int64_t line;
};
void ms_frame_parse(const char *frame, struct ms_frame_parts *p);

/* The same with the line and the file's whole path: "function+0x12 (/src/app/file.c:42)"
 * (for pprof, whose source views find the file by it) */
void ms_frame_format_path(const struct ms_frame_info *f, char *buf, size_t len);

/* An inlined-calls text (ms_frame_info.inlined) with each file's directory left out, as
 * reports show frames: "f (dir/file.c:3)\n" -> "f (file.c:3)\n" into out */
void ms_inlined_base_names(const char *inlined, char *out, size_t len);

/* Counters since ms_symbolizer_new, for -v output and tests */
void ms_symbolizer_stats(const struct ms_symbolizer *s, struct ms_symbolizer_stats *out);

/* sym demangled into buf (C++ Itanium, Rust legacy and v0, without Rust's hashes and
 * a "@VERSION" suffix dropped); names that are not mangled are copied */
void ms_demangle(const char *sym, char *buf, size_t len);

#endif
