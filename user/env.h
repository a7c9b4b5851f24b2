/* env.h: the command line: options, their defaults and bounds, the usage text */
#ifndef MS_ENV_H
#define MS_ENV_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "allocspec.h"
#include "findings.h"
#include "output.h"
#include "presets.h"

/* Defaults and bounds, each written once: the usage text is built from them */
#define MS_ENV_MAX_PIDS 1024
#define MS_ENV_MAX_SPECS 64 /* --alloc, --free and --realloc together */
#define MS_ENV_MAX_PRESETS 8
#define MS_ENV_INTERVAL 1 /* -i, seconds */
#define MS_ENV_TOP 20	  /* -n */
#define MS_ENV_RINGBUF_MB 16
#define MS_ENV_STACK_DEPTH 127 /* --stack-depth: perf's and bcc's; at most MS_MAX_STACK_DEPTH */
#define MS_ENV_STACK_ENTRIES 16384
#define MS_ENV_STACK_ENTRIES_MAX 4194304 /* 4 GiB of 127-frame stacks */
#define MS_ENV_UNWIND_ROWS 2097152	 /* --unwind-rows: 24 MiB */
#define MS_ENV_UNWIND_ROWS_MAX 16777216	 /* 192 MiB */
#define MS_ENV_UNWIND_OBJECTS 8192	 /* objects with rows */
#define MS_ENV_UNWIND_PROCS 4096	 /* processes whose mappings the programs know */
#define MS_ENV_MIN_AGE 5		 /* --min-age, seconds */
#define MS_ENV_MAX_LIVE 20000000
#define MS_ENV_MAX_PROCS 100000

/* What the command line asks for */
struct ms_env {
	pid_t pids[MS_ENV_MAX_PIDS]; /* -p */
	int npids;
	double interval;       /* -i, seconds */
	double duration;       /* -d, seconds; 0: until stopped */
	bool json;	       /* --json */
	int verbose;	       /* -v, -vv */
	unsigned top;	       /* -n: processes per text table */
	uint64_t ringbuf_size; /* --ringbuf-size, bytes */
	bool no_placement;     /* --no-placement: probes at function entries */
	bool no_multi;	       /* --no-uprobe-multi: a perf-event uprobe each */
	bool trust_fuse;       /* --trust-fuse: read files on FUSE too */
	const char *record;    /* --record FILE */
	const char *replay;    /* --replay FILE */
	struct ms_allocspec specs[MS_ENV_MAX_SPECS]; /* --alloc, --free, --realloc */
	int nspecs;
	const struct ms_preset *presets[MS_ENV_MAX_PRESETS]; /* --preset */
	int npresets;
	struct ms_pool_opts pool;   /* --pool-* thresholds of the findings */
	bool numa_pages;	    /* --numa-pages */
	bool stacks;		    /* --stacks */
	unsigned long max_live;	    /* --max-live: blocks tracked */
	unsigned long max_procs;    /* --max-processes */
	unsigned stack_depth;	    /* --stack-depth: frames */
	unsigned stack_entries;	    /* --stack-map-size: distinct stacks */
	enum ms_unwind_mode unwind; /* --stack-unwind */
	unsigned long unwind_rows;  /* --unwind-rows */
	uint64_t sample_bytes;	    /* --sample-bytes: 0, every outermost allocation */
	double min_age;	       /* --min-age: seconds a block lives before it counts as leaked */
	const char *folded;    /* --folded FILE */
	bool folded_count;     /* --folded-weight count (else bytes) */
	bool folded_lines;     /* --folded-lines: frames with their file:line */
	const char *pprof;     /* --pprof FILE */
	const char *pprof_dir; /* --pprof-dir DIR */
	const char *html;      /* --html FILE */
	int argc;	       /* memscope-bpf's own command line (the --html page's head) */
	char **argv;
	enum ms_folded_what folded_what; /* --folded-what */
	char **command;			 /* after -- */
	const char *prometheus;		 /* --prometheus ADDR:PORT */
	unsigned prom_max;		 /* --prometheus-max-processes */
	double prom_grace;		 /* --prometheus-grace, seconds */
	bool quiet;			 /* -q: no records on stdout */
	bool follow;			 /* -f: the children of the traced processes too */
	bool in_process;       /* COMMAND's calls from a preloaded library (the default) */
	bool in_process_named; /* --in-process given: no uprobes when its library is missing */
	bool in_process_lossy; /* --in-process=lossy: a full ring loses the record (else
				  its writer waits) */
	bool bpf;	       /* --bpf: COMMAND's calls from uprobes */
	const char *output;    /* -o FILE: the records go there, not to stdout */
};

/*
 * env filled from the command line over the defaults. A usage error is said in one line
 * on stderr and exits with status 2; --help prints the usage text and exits with 0.
 */
void ms_env_parse(struct ms_env *env, int argc, char **argv);

/* The parsers of option values: 0 and *out set, or -EINVAL (not a value of that kind) */

/* Seconds: more than 0 (or 0 too with zero_ok) and at most 10^9 */
int ms_env_parse_secs(const char *s, bool zero_ok, double *out);
/* A count from 1 to 2^32 - 1 */
int ms_env_parse_count(const char *s, unsigned long *out);
/* A number from 0 to 2^32 - 1 */
int ms_env_parse_u32(const char *s, unsigned long *out);
/* A byte count, with a K, M or G suffix (KiB, MiB, GiB) */
int ms_env_parse_bytes(const char *s, uint64_t *out);
/* A ring buffer size, with a K, M or G suffix; -ERANGE when it is no power of two from 4K
 * to 4G */
int ms_env_parse_size(const char *s, uint64_t *out);
/* PID[,PID...] appended to pids (n of max used); -E2BIG past max */
int ms_env_parse_pids(const char *s, pid_t *pids, int *n, int max);

#endif
