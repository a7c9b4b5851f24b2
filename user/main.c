/* main.c: memscope-bpf options and lifecycle: open, load, attach, poll, report */
#include <dirent.h>
#include <stddef.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "memscope.h"
#include "memscope.skel.h"
#include "launch.h"
#include "output.h"
#include "record.h"
#include "presets.h"
#include "probes.h"
#include "prom.h"
#include "procmaps.h"
#include "allocspec.h"
#include "stats.h"
#include "symcache.h"
#include "numa.h"
#include "stackmap.h"
#include "ulink.h"
#include "merge.h"
#include "guard.h"
#include "outfile.h"
#include "safepath.h"

#define MAX_PIDS 1024
#define MAX_SPECS 64
#define MAX_STACK_ENTRIES (1u << 22) /* --stack-map-size: 4 GiB of 127-frame stacks */

static struct env {
	pid_t pids[MAX_PIDS]; /* -p */
	int npids;
	double interval;		      /* -i, seconds */
	double duration;		      /* -d, seconds; 0: until stopped */
	bool json;			      /* --json */
	int verbose;			      /* -v, -vv */
	unsigned top;			      /* -n: processes per text table */
	uint64_t ringbuf_size;		      /* --ringbuf-size, bytes */
	bool no_placement;		      /* --no-placement: probes at function entries */
	bool no_multi;			      /* --no-uprobe-multi: a perf-event uprobe each */
	bool trust_fuse;		      /* --trust-fuse: read files on FUSE too */
	const char *record;		      /* --record FILE */
	const char *replay;		      /* --replay FILE */
	struct ms_allocspec specs[MAX_SPECS]; /* --alloc, --free, --realloc */
	int nspecs;
	const struct ms_preset *presets[8]; /* --preset */
	int npresets;
	struct ms_pool_opts pool; /* --pool-* thresholds of the findings */
	bool numa_pages;	  /* --numa-pages */
	bool stacks;		  /* --stacks */
	unsigned long max_live;	  /* --max-live: blocks tracked */
	unsigned long max_procs;  /* --max-processes */
	unsigned stack_depth;	  /* --stack-depth: frames */
	unsigned stack_entries;	  /* --stack-map-size: distinct stacks */
	double min_age;		  /* --min-age: seconds a block lives before it counts as leaked */
	const char *folded;	  /* --folded FILE */
	bool folded_count;	  /* --folded-weight count (else bytes) */
	enum ms_folded_what folded_what; /* --folded-what */
	char **command;			 /* after -- */
	const char *prometheus;		 /* --prometheus ADDR:PORT */
	unsigned prom_max;		 /* --prometheus-max-processes */
	double prom_grace;		 /* --prometheus-grace, seconds */
	bool quiet;			 /* -q: no records on stdout */
	bool follow;			 /* -f: the children of the traced processes too */
	const char *output;		 /* -o FILE: the records go there, not to stdout */
} env = {
	.pool = MS_POOL_OPTS_DEFAULT,
	.stack_depth = 32,
	.max_live = 20000000,
	.max_procs = 100000,
	.stack_entries = 16384,
	.min_age = 5,
	.folded_what = MS_FOLDED_LIVE,
	.interval = 1.0,
	.top = 20,
	.ringbuf_size = 16 << 20,
	.prom_max = MS_PROM_DEFAULT_MAX_PROCESSES,
	.prom_grace = MS_PROM_DEFAULT_GRACE,
};

static const char usage[] =
	"Usage: memscope-bpf [OPTIONS] [-f] [-p PID[,PID...] | -- COMMAND [ARGS...]]\n"
	"       memscope-bpf --replay FILE [OPTIONS]\n"
	"Trace the allocations of processes with BPF uprobes on libc and the allocators they\n"
	"use, and print per-process statistics: one process, a launched command, or every\n"
	"process.\n"
	"\n"
	"What to trace\n"
	"  -p, --pid PID[,PID...]  trace these running processes (all their threads)\n"
	"                          e.g. memscope-bpf -p $(pgrep -n redis-server)\n"
	"  -- COMMAND [ARGS...]    start COMMAND traced from its first instruction, end\n"
	"                          when it exits   e.g. memscope-bpf -- python3 -c 'pass'\n"
	"                          (neither: trace every process on the machine)\n"
	"  -f, --follow            also trace their children, as they fork and exec, each\n"
	"                          from its first instruction   e.g. memscope-bpf -f -- make\n"
	"      --alloc SPEC        also trace an allocation function, its parameters named by\n"
	"                          role (size, nmemb, out, _): [NAME=][/OBJECT:]FUNC(ROLES)[=BYTES]\n"
	"                          e.g. --alloc 'objpool=obj_pool_alloc(_, size)'\n"
	"                               --alloc 'slab_get(_)=64' --alloc 'Arena::Allocate(_, size)'\n"
	"      --free SPEC         a free function (role ptr)\n"
	"                          e.g. --free 'objpool=obj_pool_free(_, ptr)'\n"
	"      --realloc SPEC      a realloc function (roles ptr and size)\n"
	"                          e.g. --realloc 'my_realloc(ptr, size)'\n"
	"      --preset NAME       a known allocator: pymalloc (CPython) or rust (the global\n"
	"                          allocator); libc, jemalloc, tcmalloc, mimalloc need none\n"
	"                          e.g. memscope-bpf --preset pymalloc -- python3 app.py\n"
	"      --stacks            the user stack of each allocation: sites in the records,\n"
	"                          a leak report at exit and on SIGUSR1\n"
	"                          e.g. memscope-bpf -p 42 --stacks\n"
	"      --stack-depth N     frames per stack (default 32, at most 127)\n"
	"      --stack-map-size N  distinct stacks kept (default 16384, at most 4194304)\n"
	"      --min-age SECS      a live block older than this counts as leaked (default 5)\n"
	"                          e.g. --min-age 60\n"
	"      --numa-pages        each interval, where the pages of a sample of live blocks\n"
	"                          are (move_pages)   e.g. memscope-bpf -p 42 --numa-pages\n"
	"      --no-placement      probe function entries, not the first instruction the\n"
	"                          kernel emulates   e.g. memscope-bpf --no-placement -p 42\n"
	"      --no-uprobe-multi   one perf-event uprobe per probe instead of a uprobe_multi\n"
	"                          link per object (kernels before 6.6 have only those)\n"
	"      --trust-fuse        also read and probe files on FUSE file systems, whose\n"
	"                          server (maybe a traced user) can stop any reader\n"
	"                          e.g. memscope-bpf --trust-fuse -p $(pgrep -n app.AppImage)\n"
	"\n"
	"Output\n"
	"  -i, --interval SECS     print statistics every SECS seconds (default 1)\n"
	"                          e.g. memscope-bpf -i 5\n"
	"  -d, --duration SECS     stop after SECS seconds   e.g. memscope-bpf -d 30\n"
	"  -j, --json              JSON Lines instead of a table   e.g. memscope-bpf --json\n"
	"  -n, --top N             processes per table, busiest first (default 20, 0: all)\n"
	"                          e.g. memscope-bpf -n 5\n"
	"  -q, --quiet             no records on stdout   e.g. memscope-bpf -q --prometheus :9464\n"
	"  -o, --output FILE       write the records to FILE, not stdout (which stays the\n"
	"                          COMMAND's)   e.g. memscope-bpf -j -o run.jsonl -- ./app\n"
	"      --folded FILE       at the end, the sites as folded stacks for flamegraph.pl,\n"
	"                          inferno or speedscope (needs --stacks)\n"
	"                          e.g. --stacks --folded app.folded; flamegraph.pl app.folded\n"
	"      --folded-weight bytes|count   (default bytes)\n"
	"      --folded-what allocated|live|leaked   (default live)\n"
	"      --pool-min-share X  findings: a size class with this share of allocations\n"
	"                          (default 0.8) and a median lifetime under\n"
	"      --pool-max-lifetime SECS  (default 0.001) is a slab candidate\n"
	"      --pool-min-allocs N allocations of a process before it is judged (1000)\n"
	"      --pool-min-chunks N same-size chunks a call site keeps to be a pool candidate\n"
	"                          (default 4)   e.g. --pool-min-chunks 8\n"
	"      --prometheus ADDR:PORT\n"
	"                          serve /metrics to Prometheus, on loopback unless ADDR\n"
	"                          says otherwise   e.g. memscope-bpf --prometheus :9464\n"
	"                          (every interface: --prometheus 0.0.0.0:9464)\n"
	"      --prometheus-max-processes N\n"
	"                          processes with series of their own, the most live\n"
	"                          bytes first; the rest summed per comm (default 100)\n"
	"      --prometheus-grace SECS\n"
	"                          keep an exited process' series SECS (default 60)\n"
	"      --record FILE       also write the raw event stream to FILE (compressed)\n"
	"                          e.g. memscope-bpf -p 42 -d 60 --record app.msr\n"
	"      --replay FILE       print the statistics of a recording; no BPF, no root\n"
	"                          e.g. memscope-bpf --replay app.msr --json\n"
	"\n"
	"Limits\n"
	"      --ringbuf-size SIZE BPF ring buffers' size, all CPUs' together, K/M/G\n"
	"                          suffix (default 16M)\n"
	"                          e.g. memscope-bpf --ringbuf-size 64M\n"
	"      --max-live N        blocks tracked at most (default 20000000; 64 bytes each at\n"
	"                          most, 128 for blocks of 1 KiB or more); past it calls\n"
	"                          are counted, blocks not tracked\n"
	"      --max-processes N   processes tracked at most (default 100000)\n"
	"                          e.g. memscope-bpf --max-live 100000000\n"
	"  -v, --verbose           say where each probe goes; -vv adds libbpf's log\n"
	"  -h, --help              this help\n"
	"\n"
	"Exit status: 0 ok, 1 runtime error, 2 usage error; with COMMAND, the command's.\n"
	"See memscope-bpf(8) for the figures and the JSON fields.\n";

static volatile sig_atomic_t exiting;
static volatile sig_atomic_t leak_report; /* SIGUSR1: a leak report now */

static void on_usr1(int sig)
{
	leak_report = 1;
}

static void on_signal(int sig)
{
	if (exiting)
		_exit(130); /* a second Ctrl-C: stop at once */
	exiting = 1;
}

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (level == LIBBPF_DEBUG && env.verbose < 2)
		return 0;
	if (env.verbose < 2 && level != LIBBPF_WARN)
		return 0;
	return vfprintf(stderr, fmt, args);
}

static void die_usage(const char *fmt, const char *arg)
{
	fprintf(stderr, "memscope-bpf: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (see memscope-bpf --help)\n");
	exit(2);
}

static double parse_secs(const char *s, const char *opt)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v > 0) || v > 1e9)
		die_usage(opt, s);
	return v;
}

static uint64_t parse_size(const char *s)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || s[0] == '-')
		die_usage("invalid --ringbuf-size '%s'", s);
	switch (*end) {
	case 'G':
	case 'g':
		v <<= 10; /* fall through */
	case 'M':
	case 'm':
		v <<= 10; /* fall through */
	case 'K':
	case 'k':
		v <<= 10;
		end++;
		break;
	}
	if (*end || v < 4096 || v > (1ULL << 32) || (v & (v - 1)))
		die_usage("invalid --ringbuf-size '%s': a power of two from 4K to 4G", s);
	return v;
}

static void parse_pids(const char *arg)
{
	const char *s = arg;
	char *end;
	long v;

	while (*s) {
		errno = 0;
		v = strtol(s, &end, 10);
		if (errno || end == s || v <= 0 || v > INT32_MAX || (*end && *end != ','))
			die_usage("invalid pid list '%s'", arg);
		if (env.npids == MAX_PIDS)
			die_usage("too many pids in '%s'", arg);
		env.pids[env.npids++] = v;
		s = *end ? end + 1 : end;
	}
	if (!env.npids)
		die_usage("invalid pid list '%s'", arg);
}

static unsigned long parse_count(const char *s, const char *opt)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || !v || v > UINT32_MAX) {
		fprintf(stderr,
			"memscope-bpf: invalid %s '%s': a count from 1 (see memscope-bpf "
			"--help)\n",
			opt, s);
		exit(2);
	}
	return v;
}

static void parse_spec(const char *text, enum ms_fn_kind kind)
{
	char err[512];

	if (env.nspecs == MAX_SPECS)
		die_usage("more than %s --alloc, --free and --realloc", "64");
	if (ms_allocspec_parse(text, kind, &env.specs[env.nspecs], err, sizeof(err)))
		die_usage("%s", err);
	if (ms_preset_find(env.specs[env.nspecs].allocator)) {
		snprintf(err, sizeof(err),
			 "%s '%s': '%s' names a known allocator: choose another name",
			 kind == MS_FN_FREE    ? "--free" :
			 kind == MS_FN_REALLOC ? "--realloc" :
						 "--alloc",
			 text, env.specs[env.nspecs].allocator);
		die_usage("%s", err);
	}
	env.nspecs++;
}

static void parse_preset(const char *name)
{
	const struct ms_preset *p = ms_preset_find(name);

	if (!p || p->automatic || p->kind == MS_AK_LIBC)
		die_usage("unknown --preset '%s' (presets: pymalloc, rust; libc, jemalloc, "
			  "tcmalloc and mimalloc are found without one)",
			  name);
	if (env.npresets < (int)(sizeof(env.presets) / sizeof(env.presets[0])))
		env.presets[env.npresets++] = p;
}

static void parse_args(int argc, char **argv)
{
	enum {
		OPT_RINGBUF = 256,
		OPT_NO_PLACEMENT,
		OPT_NO_MULTI,
		OPT_TRUST_FUSE,
		OPT_RECORD,
		OPT_REPLAY,
		OPT_ALLOC,
		OPT_FREE,
		OPT_REALLOC,
		OPT_PRESET,
		OPT_POOL_SHARE,
		OPT_POOL_LIFETIME,
		OPT_POOL_ALLOCS,
		OPT_POOL_CHUNKS,
		OPT_NUMA_PAGES,
		OPT_STACKS,
		OPT_STACK_DEPTH,
		OPT_STACK_MAP,
		OPT_MIN_AGE,
		OPT_FOLDED,
		OPT_FOLDED_WEIGHT,
		OPT_FOLDED_WHAT,
		OPT_MAX_LIVE,
		OPT_MAX_PROCS,
		OPT_PROMETHEUS,
		OPT_PROM_MAX,
		OPT_PROM_GRACE,
	};
	static const struct option opts[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "interval", required_argument, NULL, 'i' },
		{ "duration", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "top", required_argument, NULL, 'n' },
		{ "ringbuf-size", required_argument, NULL, OPT_RINGBUF },
		{ "no-placement", no_argument, NULL, OPT_NO_PLACEMENT },
		{ "no-uprobe-multi", no_argument, NULL, OPT_NO_MULTI },
		{ "trust-fuse", no_argument, NULL, OPT_TRUST_FUSE },
		{ "record", required_argument, NULL, OPT_RECORD },
		{ "replay", required_argument, NULL, OPT_REPLAY },
		{ "alloc", required_argument, NULL, OPT_ALLOC },
		{ "free", required_argument, NULL, OPT_FREE },
		{ "realloc", required_argument, NULL, OPT_REALLOC },
		{ "preset", required_argument, NULL, OPT_PRESET },
		{ "pool-min-share", required_argument, NULL, OPT_POOL_SHARE },
		{ "pool-max-lifetime", required_argument, NULL, OPT_POOL_LIFETIME },
		{ "pool-min-allocs", required_argument, NULL, OPT_POOL_ALLOCS },
		{ "pool-min-chunks", required_argument, NULL, OPT_POOL_CHUNKS },
		{ "numa-pages", no_argument, NULL, OPT_NUMA_PAGES },
		{ "stacks", no_argument, NULL, OPT_STACKS },
		{ "stack-depth", required_argument, NULL, OPT_STACK_DEPTH },
		{ "stack-map-size", required_argument, NULL, OPT_STACK_MAP },
		{ "min-age", required_argument, NULL, OPT_MIN_AGE },
		{ "folded", required_argument, NULL, OPT_FOLDED },
		{ "folded-weight", required_argument, NULL, OPT_FOLDED_WEIGHT },
		{ "folded-what", required_argument, NULL, OPT_FOLDED_WHAT },
		{ "max-live", required_argument, NULL, OPT_MAX_LIVE },
		{ "max-processes", required_argument, NULL, OPT_MAX_PROCS },
		{ "prometheus", required_argument, NULL, OPT_PROMETHEUS },
		{ "prometheus-max-processes", required_argument, NULL, OPT_PROM_MAX },
		{ "prometheus-grace", required_argument, NULL, OPT_PROM_GRACE },
		{ "quiet", no_argument, NULL, 'q' },
		{ "follow", no_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct sockaddr_storage sa;
	socklen_t salen;
	char *end, err[256];
	unsigned long v;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+p:i:d:jn:qfo:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			parse_pids(optarg);
			break;
		case 'i':
			env.interval = parse_secs(optarg, "invalid interval '%s'");
			break;
		case 'd':
			env.duration = parse_secs(optarg, "invalid duration '%s'");
			break;
		case 'j':
			env.json = true;
			break;
		case 'n':
			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || optarg[0] == '-' || v > UINT32_MAX)
				die_usage("invalid --top '%s'", optarg);
			env.top = v;
			break;
		case OPT_RINGBUF:
			env.ringbuf_size = parse_size(optarg);
			break;
		case OPT_NO_PLACEMENT:
			env.no_placement = true;
			break;
		case OPT_NO_MULTI:
			env.no_multi = true;
			break;
		case OPT_TRUST_FUSE:
			env.trust_fuse = true;
			break;
		case OPT_RECORD:
			env.record = optarg;
			break;
		case OPT_REPLAY:
			env.replay = optarg;
			break;
		case OPT_ALLOC:
		case OPT_FREE:
		case OPT_REALLOC:
			parse_spec(optarg, c == OPT_ALLOC ? MS_FN_ALLOC :
					   c == OPT_FREE  ? MS_FN_FREE :
							    MS_FN_REALLOC);
			break;
		case OPT_PRESET:
			parse_preset(optarg);
			break;
		case OPT_POOL_SHARE:
			env.pool.min_share = parse_secs(optarg, "invalid --pool-min-share '%s'");
			if (env.pool.min_share > 1)
				die_usage("invalid --pool-min-share '%s': a share from 0 to 1",
					  optarg);
			break;
		case OPT_POOL_LIFETIME:
			env.pool.max_lifetime_ns =
				parse_secs(optarg, "invalid --pool-max-lifetime '%s' (seconds)") *
				1e9;
			break;
		case OPT_POOL_ALLOCS:
			env.pool.min_allocs = parse_count(optarg, "--pool-min-allocs");
			break;
		case OPT_POOL_CHUNKS:
			env.pool.min_chunks = parse_count(optarg, "--pool-min-chunks");
			break;
		case OPT_NUMA_PAGES:
			env.numa_pages = true;
			break;
		case OPT_STACKS:
			env.stacks = true;
			break;
		case OPT_STACK_DEPTH:
			env.stack_depth = parse_count(optarg, "--stack-depth");
			if (env.stack_depth > MS_MAX_STACK_DEPTH)
				die_usage("invalid --stack-depth '%s': at most 127 frames", optarg);
			break;
		case OPT_STACK_MAP:
			env.stack_entries = parse_count(optarg, "--stack-map-size");
			if (env.stack_entries > MAX_STACK_ENTRIES)
				die_usage("invalid --stack-map-size '%s': at most 4194304 stacks",
					  optarg);
			break;
		case OPT_MIN_AGE:
			/* 0: every live block */
			env.min_age =
				strcmp(optarg, "0") ?
					parse_secs(optarg, "invalid --min-age '%s' (seconds)") :
					0;
			break;
		case OPT_FOLDED:
			env.folded = optarg;
			break;
		case OPT_MAX_LIVE:
			env.max_live = parse_count(optarg, "--max-live");
			break;
		case OPT_MAX_PROCS:
			env.max_procs = parse_count(optarg, "--max-processes");
			break;
		case OPT_FOLDED_WEIGHT:
			if (strcmp(optarg, "bytes") && strcmp(optarg, "count"))
				die_usage("invalid --folded-weight '%s': bytes or count", optarg);
			env.folded_count = !strcmp(optarg, "count");
			break;
		case OPT_FOLDED_WHAT:
			if (!strcmp(optarg, "allocated"))
				env.folded_what = MS_FOLDED_ALLOCATED;
			else if (!strcmp(optarg, "live"))
				env.folded_what = MS_FOLDED_LIVE;
			else if (!strcmp(optarg, "leaked"))
				env.folded_what = MS_FOLDED_LEAKED;
			else
				die_usage("invalid --folded-what '%s': allocated, live or leaked",
					  optarg);
			break;
		case OPT_PROMETHEUS:
			if (ms_prom_parse_addr(optarg, &sa, &salen, err, sizeof(err)))
				die_usage("%s", err);
			env.prometheus = optarg;
			break;
		case OPT_PROM_MAX: {
			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || optarg[0] == '-' || v > UINT32_MAX)
				die_usage("invalid --prometheus-max-processes '%s'", optarg);
			env.prom_max = v;
			break;
		}
		case OPT_PROM_GRACE:
			errno = 0;
			env.prom_grace = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(env.prom_grace >= 0) ||
			    env.prom_grace > 1e9)
				die_usage("invalid --prometheus-grace '%s'", optarg);
			break;
		case 'q':
			env.quiet = true;
			break;
		case 'f':
			env.follow = true;
			break;
		case 'o':
			env.output = optarg;
			break;
		case 'v':
			env.verbose++;
			break;
		case 'h':
			fputs(usage, stdout);
			exit(0);
		default:
			if (optopt && optopt < 256)
				fprintf(stderr,
					"memscope-bpf: option '-%c' %s (see memscope-bpf --help)\n",
					optopt,
					strchr("pidno", optopt) ? "needs a value" : "is unknown");
			else
				fprintf(stderr,
					"memscope-bpf: unknown or incomplete option '%s' "
					"(see memscope-bpf --help)\n",
					argv[optind - 1]);
			exit(2);
		}
	}
	if (optind < argc)
		env.command = &argv[optind];
	if (env.command && env.npids)
		die_usage("%s", "-p and a COMMAND cannot be combined");
	if (env.folded && !env.stacks)
		die_usage("%s", "--folded needs --stacks");
	if (env.replay && (env.command || env.npids || env.record))
		die_usage("%s", "--replay reads a recording: no -p, COMMAND or --record with it");
	if (env.replay && env.prometheus)
		die_usage("%s", "--prometheus serves a live trace: not with --replay");
	if (env.follow && !env.command && !env.npids)
		die_usage("%s", "-f follows the children of -p processes or of a COMMAND: every "
				"process is traced without it");
	if (env.follow && env.replay)
		die_usage("%s", "-f follows live processes: not with --replay");
}

/* Whether the kernel's BTF has a function (a kfunc) named name */
static bool kernel_has_func(const char *name)
{
	struct btf *btf = btf__load_vmlinux_btf();
	bool has = btf && btf__find_by_name_kind(btf, name, BTF_KIND_FUNC) > 0;

	btf__free(btf);
	return has;
}

/* One clear line for each thing the kernel or the privileges lack */
static int check_system(void)
{
	unsigned long long caps = 0;
	char line[256];
	FILE *f;

	f = fopen("/proc/self/status", "re");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &caps) == 1)
			break;
	if (f)
		fclose(f);
	/* CAP_SYS_ADMIN (21), or CAP_PERFMON (38) with CAP_BPF (39) */
	if (!(caps & (1ULL << 21)) && (~caps & (3ULL << 38))) {
		fprintf(stderr, "memscope-bpf: needs root, or CAP_BPF and CAP_PERFMON "
				"(run it with sudo)\n");
		return -EPERM;
	}
	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		fprintf(stderr, "memscope-bpf: kernel has no BTF (/sys/kernel/btf/vmlinux): "
				"needs CONFIG_DEBUG_INFO_BTF=y\n");
		return -ENOTSUP;
	}
	if (access("/sys/bus/event_source/devices/uprobe/type", R_OK)) {
		fprintf(stderr,
			"memscope-bpf: kernel has no uprobes "
			"(/sys/bus/event_source/devices/uprobe): needs CONFIG_UPROBE_EVENTS=y\n");
		return -ENOTSUP;
	}
	return 0;
}

/*
 * A record waits in the merge until every ring has been seen empty since its time (see
 * merge.h), at most MERGE_MAX_WAIT_NS: a ring held back longer than that (a thread
 * preempted for a second inside a BPF program) no longer holds the others, and what it
 * brings later than a newer record already applied is counted (lost.late). So is what
 * comes past MERGE_MAX_QUEUED records waiting (64 MiB).
 */
#define MERGE_MAX_WAIT_NS (1000 * 1000 * 1000ULL)
#define MERGE_MAX_QUEUED (1u << 20)
/* A ring seen empty at time T holds no record reserved before T; a record's timestamp
 * is taken after its reservation, and this margin covers the producer position's store
 * reaching this CPU */
#define MERGE_QUIET_MARGIN_NS (1000 * 1000ULL)

struct tracer;

/* One CPU's ring buffer, as the consumer sees it */
struct ring {
	struct tracer *t;
	int index;
	int fd;
	void *pos; /* its first two pages, read-only: consumer and producer positions */
	size_t pos_len;
	uint64_t mark_ts;	/* a time at which the producer was at mark_pos (0: none): */
	unsigned long mark_pos; /* once the consumer passes it, all reserved before is read */
};

struct tracer {
	struct memscope *skel;
	struct ring_buffer *rb;
	struct ring *rings; /* one per possible CPU */
	int nrings;
	struct ms_merge merge; /* their records, in timestamp order */
	size_t pos_page;       /* the page size: a ring's producer position is on its second */
	struct ms_probes *probes;
	struct ms_stats stats;
	struct ms_output out;
	struct ms_launch launch;
	bool launched;	  /* a COMMAND is running */
	int child_status; /* its wait status once it ended */
	bool child_done;
	bool every;	      /* every-process mode */
	int pidfds[MAX_PIDS]; /* -p: readable when the process ends */
	int nalive;	      /* -p processes still running */
	pid_t *rescan;	      /* processes whose maps changed: attach to new objects */
	size_t nrescan, cap_rescan;
	double t0, last_report;
	uint64_t last_events;
	bool stdout_gone;
	struct ms_allocspec *specs;  /* --alloc, --free, --realloc */
	struct ms_symcache *syms;    /* call sites to names */
	struct ms_numa numa;	     /* CPU to node: the fallback for a record's node */
	struct ms_stackmap stackmap; /* --stacks */
	bool cap_warned;
	bool numa_noted;	      /* "one NUMA node" said */
	struct ms_recorder *rec;      /* --record */
	bool replaying;		      /* --replay: the clock is the recorded events' */
	double replay_now;	      /* seconds, the last replayed event's time */
	double replay_next;	      /* when the next interval record is due */
	uint64_t lost_by[MS_CNT_MAX]; /* the BPF loss counters, as last read */
	struct ms_prom *prom;	      /* --prometheus */
	bool filtering;		      /* -p or COMMAND: only chosen processes are traced */
	struct held *held; /* -f: processes the kernel stopped until the daemon attaches */
	size_t nheld, cap_held;
	uint64_t untraced_children; /* children of traced processes not traced (no -f) */
	bool attached;		    /* the "attached" line was said: tracing has begun */
	FILE *out_file;		    /* -o FILE */
	int guard;		    /* the guard's handle (guard.h), or -1 */
	FILE *folded;		    /* --folded FILE, written at the end */
	bool rec_failed;	    /* --record: a write failed (said once) */
};

/* -f: a process the kernel stopped for the daemon (a FORK, EXEC or DLSTATE record) */
struct held {
	pid_t pid;
	uint8_t why; /* the record type */
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* The tracer's clock: monotonic time, or the recorded time of a replay */
static double clock_of(const struct tracer *t)
{
	return t->replaying ? t->replay_now : now_s();
}

/*
 * The name (its thread-group leader's) and start time (clock ticks since boot) of process
 * pid, from /proc/PID/stat: 0, or -1 when it is gone. The start time tells a process
 * from a later one with the same pid.
 */
static int proc_ident(pid_t pid, char comm[MS_COMM_LEN + 1], uint64_t *start)
{
	char path[64], buf[1024], *open_paren, *close_paren, *f;
	unsigned long long ticks = 0;
	ssize_t n;
	size_t len;
	int fd, i;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	open_paren = strchr(buf, '(');
	close_paren = strrchr(buf, ')'); /* the name may hold spaces and parentheses */
	if (!open_paren || !close_paren || close_paren < open_paren)
		return -1;
	len = close_paren - open_paren - 1;
	if (len > MS_COMM_LEN)
		len = MS_COMM_LEN;
	memcpy(comm, open_paren + 1, len);
	comm[len] = '\0';
	/* starttime is the 20th field after the name */
	for (f = close_paren + 1, i = 0; f && i < 19; i++)
		f = strchr(f + 1, ' ');
	if (!f || sscanf(f, " %llu", &ticks) != 1)
		return -1;
	*start = ticks;
	return 0;
}

static void read_comm(pid_t pid, char *comm, size_t len)
{
	char name[MS_COMM_LEN + 1];
	uint64_t start;

	snprintf(comm, len, "%s", proc_ident(pid, name, &start) ? "?" : name);
}

static void fill_comm(struct ms_proc *p, void *ctx)
{
	struct tracer *t = ctx;

	char comm[MS_COMM_LEN + 1];
	uint64_t start;

	if (t->replaying)
		return;
	/* a process that renamed itself (prctl PR_SET_NAME in its leader) is shown under its
	 * new name, once it is sure the pid is still that process */
	if (!p->exited && (p->active || p->listed || !p->comm[0]) &&
	    !proc_ident(p->pid, comm, &start) && (!p->start_ticks || p->start_ticks == start)) {
		p->start_ticks = start;
		if (strcmp(comm, p->comm)) {
			memcpy(p->comm, comm, sizeof(p->comm));
			p->comm_recorded = false;
		}
	}
	if (!p->comm[0])
		snprintf(p->comm, sizeof(p->comm), "?");
	if (t->rec && !p->comm_recorded) {
		ms_recorder_comm(t->rec, p->pid, p->comm, 0);
		p->comm_recorded = true;
	}
}

/* A process shown from the start (-p, COMMAND) that stays for the final record */
static void pin(struct tracer *t, pid_t pid)
{
	struct ms_proc *p = ms_stats_proc(&t->stats, pid, true);

	if (!p)
		return;
	p->listed = true;
	p->pinned = true;
	read_comm(pid, p->comm, sizeof(p->comm));
	if (t->rec) {
		ms_recorder_comm(t->rec, pid, p->comm, MS_PROC_LISTED | MS_PROC_PINNED);
		p->comm_recorded = true;
	}
}

/* Sums the per-CPU loss counters of the BPF programs into t->lost_by */
static void read_counters(struct tracer *t)
{
	int ncpu = libbpf_num_possible_cpus(), fd = bpf_map__fd(t->skel->maps.ms_counters);
	__u64 v[ncpu > 0 ? ncpu : 1];
	__u32 k;
	int c;

	for (k = 0; k < MS_CNT_MAX && ncpu > 0; k++) {
		if (bpf_map_lookup_elem(fd, &k, v))
			continue;
		t->lost_by[k] = 0;
		for (c = 0; c < ncpu; c++)
			t->lost_by[k] += v[c];
	}
	if (t->rec)
		ms_recorder_lost(t->rec, t->lost_by);
}

/* What a record of kind says about the tracer. Rates cover the time since the last
 * report, but a final record's cover the whole run (see rates_from_start) */
static void report_of(struct tracer *t, struct ms_report *r, enum ms_record_kind kind)
{
	double now = clock_of(t);
	bool whole = kind == MS_REC_FINAL;

	memset(r, 0, sizeof(*r));
	r->ts = now - t->t0;
	r->interval_s = now - (whole ? t->t0 : t->last_report);
	r->events = t->stats.events;
	r->events_per_s =
		r->interval_s > 0 ? (r->events - (whole ? 0 : t->last_events)) / r->interval_s : 0;
	r->untraced_children = t->untraced_children;
	memcpy(r->lost_by, t->lost_by, sizeof(r->lost_by));
	r->untracked = t->stats.oom;
	r->tracked_blocks = t->stats.blocks;
	r->tracked_blocks_peak = t->stats.blocks_peak;
	r->missed_frees = t->stats.missed_frees;
	r->late = t->merge.late;
	r->lost = r->lost_by[MS_CNT_RINGBUF_FULL] + r->lost_by[MS_CNT_THREADS_FULL] +
		  r->lost_by[MS_CNT_DEPTH] + r->lost_by[MS_CNT_STALE_FRAME] + r->untracked +
		  r->missed_frees + r->late;
}

static void check_stdout(struct tracer *t)
{
	if (ferror(t->out.f) && !t->stdout_gone) {
		t->stdout_gone = true; /* e.g. a pipe into head closed: detach and stop */
		exiting = 1;
	}
}

static void mark_one(struct ms_proc *p, void *ctx)
{
	ms_output_mark(p);
}

/* The final record's rates are averages over the whole run, not over the sliver of
 * time since the last interval record: counted from no calls at the start */
static void rates_from_start(struct ms_proc *p, void *ctx)
{
	unsigned i;

	memset(&p->last, 0, sizeof(p->last));
	for (i = 0; i < p->nalloc; i++)
		memset(&p->alloc[i].last, 0, sizeof(p->alloc[i].last));
}

#define PAGE_SAMPLE 256 /* live blocks whose pages are looked up per process and report */

/* --numa-pages: where the pages of a sample of p's live blocks are */
static void sample_pages(struct ms_proc *p, void *ctx)
{
	uint64_t addrs[PAGE_SAMPLE], sizes[PAGE_SAMPLE];
	int alloc_node[PAGE_SAMPLE], where[PAGE_SAMPLE];
	struct ms_page_sample *ps = &p->pages;
	size_t n = 0, i, visited = 0, entries = 0;
	const struct ms_block *b;
	unsigned a;

	(void)ctx;
	if (p->exited)
		return;
	for (a = 0; a < p->nalloc; a++)
		entries += p->alloc[a].user.live.used;
	memset(ps, 0, offsetof(struct ms_page_sample, cursor));
	/* the user sides' tables one after the other, from where the last sample stopped:
	 * the cursor's allocator, then its position in that table */
	for (a = ps->cursor_alloc; entries && visited < entries && n < PAGE_SAMPLE;) {
		if (a >= p->nalloc) {
			a = 0;
			ps->cursor = 0;
			continue;
		}
		b = ms_livetab_iter(&p->alloc[a].user.live, &ps->cursor);
		if (!b) {
			a++;
			continue;
		}
		visited++;
		if (ms_block_dead(b))
			continue;
		addrs[n] = b->addr;
		sizes[n] = ms_block_size(b);
		alloc_node[n] = ms_block_node(b);
		n++;
	}
	ps->cursor_alloc = a;
	if (!n || ms_numa_page_nodes(p->pid, addrs, n, where))
		return;
	for (i = 0; i < n; i++) {
		if (where[i] < 0) {
			ps->not_present++;
			continue;
		}
		ps->blocks++;
		ps->bytes += sizes[i];
		if (where[i] != alloc_node[i])
			ps->remote_bytes += sizes[i];
	}
}

static void report(struct tracer *t, enum ms_record_kind kind)
{
	struct ms_report r;
	static uint64_t warned_lost;

	if (!t->replaying) {
		read_counters(t);
		if (ms_numa_refresh(&t->numa) && env.verbose)
			fprintf(stderr,
				"memscope-bpf: CPUs came online or went offline: "
				"%u NUMA node(s) now\n",
				t->numa.present);
		if (env.numa_pages)
			ms_stats_for_each(&t->stats, sample_pages, t);
	}
	if (kind == MS_REC_FINAL)
		ms_stats_for_each(&t->stats, rates_from_start, NULL);
	report_of(t, &r, kind);
	ms_stats_for_each(&t->stats, fill_comm, t);
	if (!env.quiet)
		ms_output_report(&t->out, kind, &r, &t->stats);
	if (t->prom && ms_prom_update(t->prom, &t->stats, &r))
		fprintf(stderr, "memscope-bpf: cannot update the metrics: out of memory\n");
	ms_stats_for_each(&t->stats, mark_one, NULL);
	if (t->stats.capped && !t->cap_warned) {
		t->cap_warned = true;
		fprintf(stderr,
			"memscope-bpf: a cap was reached (--max-live %lu blocks or "
			"--max-processes %lu): calls are still counted, further blocks or "
			"processes are not tracked (see \"untracked\")\n",
			env.max_live, env.max_procs);
	}
	if (r.lost_by[MS_CNT_RINGBUF_FULL] > warned_lost) {
		fprintf(stderr,
			"memscope-bpf: %" PRIu64 " records dropped; consider increasing "
			"--ringbuf-size\n",
			r.lost_by[MS_CNT_RINGBUF_FULL] - warned_lost);
		warned_lost = r.lost_by[MS_CNT_RINGBUF_FULL];
	}
	t->last_report = clock_of(t);
	t->last_events = t->stats.events;
	check_stdout(t);
}

/* The leak report: sites of blocks older than --min-age */
static void leaks(struct tracer *t)
{
	struct ms_report r;

	if (!env.stacks) {
		fprintf(stderr,
			"memscope-bpf: SIGUSR1 asks for a leak report: it needs --stacks\n");
		return;
	}
	report_of(t, &r, MS_REC_LEAKS);
	ms_stats_for_each(&t->stats, fill_comm, t);
	ms_output_leaks(&t->out, &r, &t->stats, clock_of(t) * 1e9, env.min_age * 1e9);
	check_stdout(t);
}

static void on_end(struct ms_proc *p, enum ms_end_reason why, void *ctx)
{
	struct tracer *t = ctx;
	struct ms_report r;

	report_of(t, &r, MS_REC_EXIT);
	if (!env.quiet)
		ms_output_end(&t->out, &r, p, why);
	if (t->prom)
		ms_prom_process_exited(t->prom, p);
	if (t->syms && !p->pinned)
		ms_symcache_forget(t->syms, p->pid);
	check_stdout(t);
}

static void queue_rescan(struct tracer *t, pid_t pid)
{
	if (t->nrescan == t->cap_rescan) {
		size_t cap = t->cap_rescan ? t->cap_rescan * 2 : 16;
		pid_t *v = realloc(t->rescan, cap * sizeof(*v));

		if (!v)
			return;
		t->rescan = v;
		t->cap_rescan = cap;
	}
	t->rescan[t->nrescan++] = pid;
}

/* -f: the kernel stopped pid for the daemon (why: the record that said so) */
static void hold(struct tracer *t, pid_t pid, uint8_t why)
{
	if (t->nheld == t->cap_held) {
		size_t cap = t->cap_held ? t->cap_held * 2 : 16;
		struct held *v = realloc(t->held, cap * sizeof(*v));

		if (!v) {
			kill(pid, SIGCONT); /* untraced rather than stopped for good */
			return;
		}
		t->held = v;
		t->cap_held = cap;
	}
	t->held[t->nheld++] = (struct held){ .pid = pid, .why = why };
}

/* One record, in timestamp order: its node checked, recorded, applied to the statistics */
static void apply_event(void *ctx, const struct ms_event *e)
{
	struct tracer *t = ctx;
	struct ms_event fixed;
	int err;

	if (e->node >= t->numa.nnodes && t->numa.nnodes) {
		/* the record's node is not one the machine has: take the CPU's */
		int node = ms_numa_node_of(&t->numa, e->cpu);

		fixed = *e;
		fixed.node = node < 0 ? 0 : node;
		e = &fixed;
	}
	if (t->rec && (err = ms_recorder_event(t->rec, e)) && !t->rec_failed) {
		/* said when it happens (a full disk), not only at the end */
		t->rec_failed = true;
		fprintf(stderr,
			"memscope-bpf: cannot write %s: %s; the recording ends here, the "
			"figures go on\n",
			env.record, strerror(-err));
	}
	ms_stats_apply(&t->stats, e);
}

/* A record read from a CPU's ring: it waits in the merge for the other rings' earlier
 * ones; what it asks the daemon to do (attach to new objects) is done at once */
static int on_event(void *ctx, void *data, size_t len)
{
	struct ring *r = ctx;
	struct tracer *t = r->t;
	const struct ms_event *e = data;
	bool launched;

	if (len < sizeof(*e))
		return 0;
	launched = t->launched && (pid_t)e->tgid == t->launch.pid;

	if (e->type == MS_EV_FORK && t->filtering && !(e->flags & MS_EVF_STOPPED))
		t->untraced_children++; /* no -f (or the kernel's table of them was full) */
	if ((e->flags & MS_EVF_STOPPED) && !launched)
		hold(t, e->tgid, e->type); /* -f: a child, or what it exec'd or loaded */
	/* new objects: a process started (every-process mode) or its loader mapped more */
	else if ((t->every && e->type == MS_EV_EXEC) || (e->type == MS_EV_DLSTATE && !launched))
		queue_rescan(t, e->tgid);
	if (ms_merge_push(&t->merge, r->index, e))
		apply_event(t, e); /* no memory to wait in: out of order rather than lost */
	return 0;
}

/*
 * After the rings were read: a ring whose consumer has passed where its producer was at
 * time T (or that is empty now) holds no record reserved before T and can only bring
 * newer ones, so the merged records no ring can precede go to the statistics, in
 * timestamp order. A ring that is never empty (a steady stream) still moves on: a check
 * notes where its producer is, and a later one sees the consumer pass it.
 */
static void drain_ready(struct tracer *t)
{
	uint64_t now = now_ns(), force = now - MERGE_MAX_WAIT_NS;
	int i;

	for (i = 0; i < t->nrings; i++) {
		struct ring *r = &t->rings[i];
		const unsigned long *cons_p = r->pos;
		const unsigned long *prod_p =
			(const unsigned long *)((const char *)r->pos + t->pos_page);
		uint64_t at = now_ns() - MERGE_QUIET_MARGIN_NS; /* before the producer is read */
		unsigned long prod = __atomic_load_n(prod_p, __ATOMIC_ACQUIRE);
		unsigned long cons = __atomic_load_n(cons_p, __ATOMIC_ACQUIRE);

		if (r->mark_ts && cons >= r->mark_pos) {
			ms_merge_quiet(&t->merge, i, r->mark_ts);
			r->mark_ts = 0;
		}
		if (prod == cons) {
			ms_merge_quiet(&t->merge, i, at);
		} else if (!r->mark_ts) {
			r->mark_ts = at;
			r->mark_pos = prod;
		}
	}
	if (t->merge.queued > MERGE_MAX_QUEUED)
		force = now;
	ms_merge_drain_ready(&t->merge, force, apply_event, t);
}

#define RING_MIN (256 << 10)
#define RING_MAX (1UL << 31) /* a map's size is 32 bits */

/*
 * One ring buffer per CPU, created before the BPF object is loaded: the first is the
 * template of ms_rings' inner maps (libbpf 1.1 cannot resize the template it declares)
 */
static int create_rings(struct tracer *t, size_t size)
{
	int i, err;

	t->rings = calloc(t->nrings, sizeof(*t->rings));
	if (!t->rings)
		return -ENOMEM;
	for (i = 0; i < t->nrings; i++)
		t->rings[i] = (struct ring){ .t = t, .index = i, .fd = -1 };
	err = ms_merge_init(&t->merge, t->nrings);
	if (err)
		return err;
	for (i = 0; i < t->nrings; i++) {
		t->rings[i].fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "ms_ring", 0, 0, size, NULL);
		if (t->rings[i].fd < 0)
			return -errno;
	}
	return bpf_map__set_inner_map_fd(t->skel->maps.ms_rings, t->rings[0].fd);
}

/* Puts the rings in ms_rings, each at its CPU, and reads them all through one ring_buffer */
static int open_rings(struct tracer *t)
{
	int outer = bpf_map__fd(t->skel->maps.ms_rings), i;

	for (i = 0; i < t->nrings; i++) {
		struct ring *r = &t->rings[i];

		if (bpf_map_update_elem(outer, &i, &r->fd, BPF_ANY))
			return -errno;
		/* where the consumer and the producer are: whether the ring is empty */
		r->pos_len = 2 * t->pos_page;
		r->pos = mmap(NULL, r->pos_len, PROT_READ, MAP_SHARED, r->fd, 0);
		if (r->pos == MAP_FAILED) {
			r->pos = NULL;
			return -errno;
		}
		if (!t->rb)
			t->rb = ring_buffer__new(r->fd, on_event, r, NULL);
		else if (ring_buffer__add(t->rb, r->fd, on_event, r))
			return -errno;
		if (!t->rb)
			return -errno;
	}
	return 0;
}

static void do_rescans(struct tracer *t)
{
	size_t i;
	int err;

	for (i = 0; i < t->nrescan; i++) {
		pid_t pid = t->rescan[i];

		err = ms_probes_attach_pid(t->probes, pid, t->every ? -1 : pid, t->every);
		if (t->syms)
			ms_symcache_snapshot(t->syms, pid);
		if (err > 0 && env.verbose)
			fprintf(stderr, "memscope-bpf: attached to %d new object%s for pid %d\n",
				err, err == 1 ? "" : "s", (int)pid);
	}
	t->nrescan = 0;
}

static void attached_line(struct tracer *t, int nprocs)
{
	size_t links = ms_probes_count(t->probes), objs = ms_probes_objects(t->probes);

	if (t->numa.present == 1 && !t->numa_noted) {
		t->numa_noted = true;
		fprintf(stderr, "memscope-bpf: one NUMA node: every figure is on node 0\n");
	}
	fprintf(stderr, "memscope-bpf: attached %zu probe%s in %zu object%s for %d process%s\n",
		links, links == 1 ? "" : "s", objs, objs == 1 ? "" : "s", nprocs,
		nprocs == 1 ? "" : "es");
	t->attached = true;
}

/* A named function found nowhere is an error: say which */
static bool missing_spec(struct tracer *t)
{
	int i = ms_probes_missing_spec(t->probes);

	/* a function of a named object that exists but is not mapped yet is found when
	 * the process loads it (dlopen): the loader's report brings it */
	while (i >= 0 && t->specs[i].object[0] && !access(t->specs[i].object, R_OK) &&
	       !ms_probes_spec_object_seen(t->probes, i)) {
		if (!t->specs[i].noted)
			fprintf(stderr,
				"memscope-bpf: %s is not loaded yet: '%s' is traced once "
				"it is\n",
				t->specs[i].object, t->specs[i].text);
		t->specs[i].noted = true;
		i = ms_probes_missing_spec_after(t->probes, i);
	}
	if (i < 0)
		return false;
	fprintf(stderr, "memscope-bpf: %s '%s': no function %s in %s\n",
		t->specs[i].kind == MS_FN_FREE	  ? "--free" :
		t->specs[i].kind == MS_FN_REALLOC ? "--realloc" :
						    "--alloc",
		t->specs[i].text, t->specs[i].function,
		t->specs[i].object[0] ? t->specs[i].object :
					"the executable or any library it maps");
	return true;
}

struct loader_ctx {
	struct tracer *t;
	pid_t pid;
	bool stop;
	int err;
};

static int loader_one(const struct ms_mapping *m, void *arg)
{
	struct loader_ctx *c = arg;
	char path[PATH_MAX];
	int err;

	if (!ms_is_loader_path(m->path) || m->deleted)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/root%s", (int)c->pid, m->path);
	err = ms_probes_attach_loader(c->t->probes, path, c->pid, c->stop);
	if (err && err != -ENOENT)
		c->err = err;
	return 1;
}

/* The loader probe of a -p process, for the libraries it loads later; with stop, it
 * stops at each change until the daemon has attached (-f) */
static int attach_loader_of(struct tracer *t, pid_t pid, bool stop)
{
	struct loader_ctx c = { .t = t, .pid = pid, .stop = stop };

	ms_maps_for_each_exec("/proc", pid, loader_one, &c);
	if (c.err)
		fprintf(stderr, "memscope-bpf: cannot attach to the loader of pid %d: %s\n",
			(int)pid, strerror(-c.err));
	return c.err;
}

/*
 * -f: attaches to each process the kernel stopped for the daemon and lets it go on: a
 * new child (its objects and its loader, which stops it at each change), an exec'd
 * image (the same: its libraries are mapped at the loader's stops) or a loader change
 * (what it mapped). The kernel stops it before the record is sent, so the SIGCONT
 * comes after the stop (or cancels it while it is pending, probes already there).
 */
static void serve_held(struct tracer *t)
{
	size_t i;
	int err;

	for (i = 0; i < t->nheld; i++) {
		struct held *h = &t->held[i];

		if (h->why != MS_EV_DLSTATE)
			pin(t, h->pid);
		err = ms_probes_attach_pid(t->probes, h->pid, h->pid, false);
		if (h->why != MS_EV_DLSTATE && err != -ESRCH)
			attach_loader_of(t, h->pid, true);
		ms_symcache_snapshot(t->syms, h->pid);
		if (err < 0 && err != -ENOENT && err != -ESRCH)
			fprintf(stderr, "memscope-bpf: cannot attach to pid %d: %s\n", (int)h->pid,
				strerror(-err));
		else if (err > 0 && env.verbose)
			fprintf(stderr, "memscope-bpf: attached to %d new object%s for pid %d\n",
				err, err == 1 ? "" : "s", (int)h->pid);
		kill(h->pid, SIGCONT);
	}
	t->nheld = 0;
}

/* Whether pid maps a C library: its start-up objects are all mapped */
static int maps_libc(const struct ms_mapping *m, void *ctx)
{
	return ms_is_libc_path(m->path);
}

/* The launched command stopped itself at a link-map change: attach, continue it */
static int serve_child(struct tracer *t)
{
	int status, err;
	pid_t r;

	r = waitpid(t->launch.pid, &status, WNOHANG | WUNTRACED);
	if (r <= 0)
		return 0;
	if (WIFEXITED(status) || WIFSIGNALED(status)) {
		t->child_status = status;
		t->child_done = true;
		return 0;
	}
	if (!WIFSTOPPED(status) || WSTOPSIG(status) != SIGSTOP)
		return 0;
	err = ms_probes_attach_pid(t->probes, t->launch.pid, t->launch.pid, false);
	ms_symcache_snapshot(t->syms, t->launch.pid);
	if (err < 0 && err != -ENOENT && err != -ESRCH) {
		fprintf(stderr, "memscope-bpf: cannot attach to pid %d: %s\n", (int)t->launch.pid,
			strerror(-err));
		kill(t->launch.pid, SIGKILL);
		return err;
	}
	/* the start-up objects are all there once libc is: the probes' total, and the
	 * named functions found or not (at the loader's first stop nothing is mapped) */
	if (!t->attached && ms_maps_for_each_exec("/proc", t->launch.pid, maps_libc, NULL) == 1) {
		if (missing_spec(t)) {
			kill(t->launch.pid, SIGKILL);
			return -ENOENT;
		}
		attached_line(t, 1);
	}
	kill(t->launch.pid, SIGCONT);
	return 0;
}

/* Every-process mode: a process running before tracing began is named now, so that an
 * exec of it later (which renames it) shows the name it had */
static void name_running(struct tracer *t, pid_t pid)
{
	struct ms_proc *p = ms_stats_proc(&t->stats, pid, true);

	if (!p || p->comm[0])
		return;
	read_comm(pid, p->comm, sizeof(p->comm));
	if (t->rec) {
		ms_recorder_comm(t->rec, pid, p->comm, 0);
		p->comm_recorded = true;
	}
}

static int attach_every(struct tracer *t)
{
	struct dirent *de;
	int n = 0, err;
	DIR *d;

	d = opendir("/proc");
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		pid_t pid = atoi(de->d_name);

		if (pid <= 0 || pid == getpid())
			continue;
		err = ms_probes_attach_pid(t->probes, pid, -1, true);
		if (err >= 0) {
			n++;
			name_running(t, pid);
		} else if (err != -ENOENT && err != -ESRCH && err != -EACCES)
			fprintf(stderr, "memscope-bpf: cannot attach to pid %d: %s\n", (int)pid,
				strerror(-err));
	}
	closedir(d);
	return n;
}

static int attach_pids(struct tracer *t)
{
	__u8 one = 1;
	int i, err;

	for (i = 0; i < env.npids; i++) {
		pid_t pid = env.pids[i];
		__u32 key = pid;

		t->pidfds[i] = syscall(SYS_pidfd_open, pid, 0);
		if (t->pidfds[i] < 0) {
			fprintf(stderr, "memscope-bpf: no process with pid %d\n", (int)pid);
			return -ESRCH;
		}
		bpf_map_update_elem(bpf_map__fd(t->skel->maps.ms_pids), &key, &one, BPF_ANY);
		err = ms_probes_attach_pid(t->probes, pid, pid, false);
		if (err == -ENOENT) {
			fprintf(stderr,
				"memscope-bpf: pid %d maps no libc or known allocator: "
				"nothing to trace\n",
				(int)pid);
			return err;
		}
		if (err == -ESRCH) {
			fprintf(stderr, "memscope-bpf: no process with pid %d\n", (int)pid);
			return err;
		}
		if (err < 0) {
			fprintf(stderr, "memscope-bpf: cannot attach to pid %d: %s\n", (int)pid,
				strerror(-err));
			return err;
		}
		pin(t, pid);
		ms_symcache_snapshot(t->syms, pid);
		/* libraries it loads later (dlopen) are found when its loader says so; with
		 * -f, its children are held at their loader's changes too */
		err = attach_loader_of(t, pid, env.follow);
		if (err)
			return err;
	}
	t->nalive = env.npids;
	return missing_spec(t) ? -ENOENT : 0;
}

/* -p: notices processes that ended even if their exit record was lost */
static void check_pids(struct tracer *t)
{
	struct pollfd pfd[MAX_PIDS];
	int i, n = 0;

	for (i = 0; i < env.npids; i++) {
		pfd[i].fd = t->pidfds[i];
		pfd[i].events = POLLIN;
		pfd[i].revents = 0;
	}
	if (poll(pfd, env.npids, 0) <= 0)
		return;
	for (i = 0; i < env.npids; i++) {
		if (t->pidfds[i] >= 0 && (pfd[i].revents & POLLIN)) {
			close(t->pidfds[i]);
			t->pidfds[i] = -1;
		}
		n += t->pidfds[i] >= 0;
	}
	t->nalive = n;
}

static int launch_command(struct tracer *t)
{
	__u8 one = 1;
	__u32 key;
	int err;

	if (!t->launch.interp[0]) {
		fprintf(stderr, "memscope-bpf: %s is statically linked: no libc to trace\n",
			t->launch.path);
		return -ENOEXEC;
	}
	key = t->launch.pid;
	bpf_map_update_elem(bpf_map__fd(t->skel->maps.ms_pids), &key, &one, BPF_ANY);
	err = ms_probes_attach_loader(t->probes, t->launch.interp, t->launch.pid, true);
	if (err) {
		fprintf(stderr, "memscope-bpf: cannot attach to the loader %s: %s\n",
			t->launch.interp, strerror(-err));
		return err;
	}
	/* the child has not exec'd yet: its libc is attached when the loader reports it */
	t->launched = true;
	pin(t, t->launch.pid);
	return ms_launch_release(&t->launch);
}

static void replay_event(const struct ms_event *e, void *ctx)
{
	struct tracer *t = ctx;
	double ts = e->ts_ns / 1e9;

	if (!t->stats.events && t->t0 == 0) {
		t->t0 = t->last_report = ts;
		t->replay_next = ts + env.interval;
	}
	/* interval records at the recorded times, a long quiet gap shown as one, and an
	 * interval with fewer records than the record would hold figures merged into the
	 * next: the output grows with the records read, not with the recorded time */
	if (ts >= t->replay_next && ms_stats_worth_report(&t->stats, t->last_events)) {
		/* at the boundary, or at the last record of the intervals merged */
		if (t->replay_now < t->replay_next)
			t->replay_now = t->replay_next;
		report(t, MS_REC_INTERVAL);
		t->replay_next += env.interval;
		if (ts >= t->replay_next)
			t->replay_next = ts + env.interval;
	}
	t->replay_now = ts;
	ms_stats_apply(&t->stats, e);
}

static void replay_comm(pid_t pid, const char *comm, uint32_t flags, void *ctx)
{
	struct tracer *t = ctx;
	struct ms_proc *p = ms_stats_proc(&t->stats, pid, true);

	if (!p)
		return;
	snprintf(p->comm, sizeof(p->comm), "%s", comm);
	p->listed |= !!(flags & MS_PROC_LISTED);
	p->pinned |= !!(flags & MS_PROC_PINNED);
}

static void replay_lost(const uint64_t lost_by[MS_CNT_MAX], void *ctx)
{
	struct tracer *t = ctx;

	memcpy(t->lost_by, lost_by, sizeof(t->lost_by));
}

/* A file the tracer writes (see outfile.h), line-buffered or not; NULL with errno set,
 * said on stderr */
static FILE *create_file(const char *path, bool lines)
{
	int fd = ms_outfile_create(path);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;

	if (!f) {
		if (fd >= 0) {
			int e = errno;

			close(fd);
			fd = -e;
		}
		fprintf(stderr, "memscope-bpf: cannot create %s: %s\n", path,
			ms_outfile_strerror(fd));
		errno = -fd;
		return NULL;
	}
	if (lines)
		setvbuf(f, NULL, _IOLBF, 0);
	return f;
}

/* -o FILE: the records' file, line-buffered like stdout; NULL with errno set */
static FILE *open_output(void)
{
	return create_file(env.output, true);
}

/* --replay: the recorded stream through the same statistics and output */
static int replay_main(void)
{
	static const struct ms_replay_fns fns = {
		.event = replay_event,
		.comm = replay_comm,
		.lost = replay_lost,
	};
	struct tracer t = { .replaying = true };
	struct ms_replay_info info;
	double t0 = now_s();
	int err;

	ms_stats_init(&t.stats, on_end, &t);
	t.stats.max_blocks = env.max_live;
	t.stats.max_procs = env.max_procs;
	if (env.output && !(t.out_file = open_output()))
		return 1;
	t.out.f = t.out_file ? t.out_file : stdout;
	t.attached = true;
	t.out.json = env.json;
	t.out.max_rows = env.top;
	t.out.pool = env.pool;
	err = ms_replay(env.replay, &fns, &t, &info);
	if (err == -EBADMSG)
		fprintf(stderr,
			"memscope-bpf: %s is corrupt or cut short (%s); the figures cover what "
			"came before\n",
			env.replay, info.damage);
	else if (err) {
		fprintf(stderr, "memscope-bpf: cannot replay %s: %s\n", env.replay,
			err == -ENOEXEC ? "not a memscope-bpf recording of this version" :
					  strerror(-err));
		ms_stats_free(&t.stats);
		if (t.out_file)
			fclose(t.out_file);
		return 1;
	}
	report(&t, MS_REC_FINAL);
	if (env.verbose) {
		double secs = now_s() - t0;

		fprintf(stderr,
			"memscope-bpf: replayed %" PRIu64 " records recorded on %s (%s) in %.3f s: "
			"%.0f records/s\n",
			t.stats.events, info.host, info.kernel, secs,
			secs > 0 ? t.stats.events / secs : 0);
	}
	ms_stats_free(&t.stats);
	if (t.out_file && fclose(t.out_file)) {
		fprintf(stderr, "memscope-bpf: cannot write %s: %s\n", env.output, strerror(errno));
		return 1;
	}
	return err ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct ms_probe_config cfg = { 0 };
	struct tracer t = { 0 };
	struct sigaction sa = { .sa_handler = on_signal };
	double deadline = 0, next;
	size_t ring_size;
	int err = 0, i, nprocs = 0, exit_code = 0;

	for (i = 0; i < MAX_PIDS; i++)
		t.pidfds[i] = -1;
	t.launch.gate = -1;
	t.guard = -1;
	parse_args(argc, argv);
	ms_path_trust_fuse(env.trust_fuse);
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* symbols come from the machine's files: never from the network (debuginfod) */
	unsetenv("DEBUGINFOD_URLS");
	if (env.replay)
		return replay_main();
	libbpf_set_print(libbpf_log);
	if (check_system())
		return 1;

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = on_signal;
	signal(SIGPIPE, SIG_IGN);

	if (env.command) {
		err = ms_launch_prepare(&t.launch, env.command);
		if (err) {
			fprintf(stderr, "memscope-bpf: cannot run %s: %s\n", env.command[0],
				strerror(-err));
			return 1;
		}
	}

	/* the files it writes are created first: a bad one is a start-up error */
	if ((env.output && !(t.out_file = open_output())) ||
	    (env.folded && !(t.folded = create_file(env.folded, false)))) {
		err = -errno;
		goto cleanup;
	}
	t.skel = memscope__open();
	if (!t.skel) {
		fprintf(stderr, "memscope-bpf: cannot open the BPF object: %s\n", strerror(errno));
		err = -errno;
		goto cleanup;
	}
	t.skel->rodata->self_tgid = getpid();
	t.filtering = env.npids || env.command;
	t.skel->rodata->filter_pids = t.filtering;
	t.skel->rodata->follow = env.follow;
	/* -f: the fork program that follows children (and holds them) replaces the plain one */
	if (env.follow && !kernel_has_func("bpf_send_signal_task")) {
		fprintf(stderr,
			"memscope-bpf: -f needs Linux 6.13 or later (bpf_send_signal_task), "
			"this kernel has not\n");
		err = -ENOTSUP;
		goto cleanup;
	}
	bpf_program__set_autoload(t.skel->progs.ms_fork, !env.follow);
	bpf_program__set_autoload(t.skel->progs.ms_fork_follow, env.follow);
	/* --ringbuf-size over the CPUs' rings: a power of two each, 256 KiB at least */
	t.pos_page = sysconf(_SC_PAGESIZE);
	t.nrings = libbpf_num_possible_cpus();
	if (t.nrings <= 0) {
		err = t.nrings ? t.nrings : -EINVAL;
		fprintf(stderr, "memscope-bpf: cannot count the CPUs: %s\n", strerror(-err));
		goto cleanup;
	}
	ring_size = env.ringbuf_size;
	while (ring_size > RING_MIN && ring_size / 2 * t.nrings >= env.ringbuf_size)
		ring_size /= 2;
	if (ring_size < RING_MIN)
		ring_size = RING_MIN;
	if (ring_size > RING_MAX)
		ring_size = RING_MAX;
	t.skel->rodata->wakeup_bytes = ring_size / 8;
	bpf_map__set_max_entries(t.skel->maps.ms_rings, t.nrings);
	err = create_rings(&t, ring_size);
	if (err) {
		fprintf(stderr, "memscope-bpf: cannot create the ring buffers: %s\n",
			strerror(-err));
		goto cleanup;
	}
	t.skel->rodata->stacks = env.stacks;
	if (env.stacks) {
		bpf_map__set_max_entries(t.skel->maps.ms_stacks, env.stack_entries);
		bpf_map__set_value_size(t.skel->maps.ms_stacks, env.stack_depth * sizeof(__u64));
	}
	/* uprobe_multi links: one per object and kind instead of a perf event per probe,
	 * cheaper on every hit and detached in one go; the programs are loaded for them */
	cfg.multi = !env.no_multi && ms_ulink_supported();
	if (cfg.multi) {
		bpf_program__set_expected_attach_type(t.skel->progs.ms_entry,
						      MS_BPF_TRACE_UPROBE_MULTI);
		bpf_program__set_expected_attach_type(t.skel->progs.ms_return,
						      MS_BPF_TRACE_UPROBE_MULTI);
	}
	if (env.verbose)
		fprintf(stderr, "memscope-bpf: probes attach as %s\n",
			cfg.multi    ? "uprobe_multi links" :
			env.no_multi ? "perf-event uprobes (--no-uprobe-multi)" :
				       "perf-event uprobes (this kernel has no "
				       "uprobe_multi links with a process filter)");
	err = memscope__load(t.skel);
	if (err) {
		fprintf(stderr, "memscope-bpf: cannot load the BPF programs: %s\n", strerror(-err));
		goto cleanup;
	}
	/* before any probe: processes this tracer stops are let go even if it is killed */
	if (env.command || env.follow) {
		t.guard = ms_guard_start(bpf_map__fd(t.skel->maps.ms_pids));
		if (t.guard < 0) {
			err = t.guard;
			fprintf(stderr, "memscope-bpf: cannot start the guard process: %s\n",
				strerror(-err));
			goto cleanup;
		}
	}
	t.every = !env.npids && !env.command;
	if (env.record) {
		t.rec = ms_recorder_open(env.record);
		if (!t.rec) {
			err = -errno;
			fprintf(stderr, "memscope-bpf: cannot create %s: %s\n", env.record,
				ms_outfile_strerror(err));
			goto cleanup;
		}
	}
	ms_stats_init(&t.stats, on_end, &t);
	t.out.f = t.out_file ? t.out_file : stdout;
	t.out.json = env.json;
	t.out.max_rows = env.top;
	t.out.pool = env.pool;
	t.out.numa_pages = env.numa_pages;
	t.stats.stacks = env.stacks;
	t.stats.max_blocks = env.max_live;
	t.stats.max_procs = env.max_procs;
	if (env.stacks) {
		err = ms_stackmap_init(&t.stackmap, bpf_map__fd(t.skel->maps.ms_stacks),
				       env.stack_depth, env.stack_entries);
		if (err)
			goto cleanup;
		t.out.stacks = &t.stackmap;
	}
	if (ms_numa_read(&t.numa, "/sys"))
		fprintf(stderr, "memscope-bpf: cannot read the NUMA topology from /sys: per-node "
				"figures use the kernel's node ids only\n");
	t.syms = ms_symcache_new();
	if (!t.syms) {
		err = -ENOMEM;
		goto cleanup;
	}
	t.out.symbolize = ms_symcache_resolve;
	t.out.object = ms_symcache_object;
	t.out.symbolize_ctx = t.syms;
	t.specs = env.specs;
	cfg.specs = env.specs;
	cfg.nspecs = env.nspecs;
	cfg.presets = env.presets;
	cfg.npresets = env.npresets;
	cfg.place = !env.no_placement;
	cfg.cxx = env.stacks;
	cfg.verbose = env.verbose;
	t.probes = ms_probes_new(t.skel->progs.ms_entry, t.skel->progs.ms_return, &cfg);
	if (!t.probes) {
		err = -errno;
		fprintf(stderr, "memscope-bpf: cannot set up the probes: %s\n", strerror(errno));
		goto cleanup;
	}
	err = open_rings(&t);
	if (err) {
		fprintf(stderr, "memscope-bpf: cannot read the ring buffers: %s\n", strerror(-err));
		goto cleanup;
	}
	err = memscope__attach(t.skel);
	if (err) {
		fprintf(stderr, "memscope-bpf: cannot attach the exec/exit tracepoints: %s\n",
			strerror(-err));
		goto cleanup;
	}
	if (env.prometheus) {
		struct ms_prom_opts po = {
			.max_processes = env.prom_max,
			.grace_s = env.prom_grace,
			.verbose = env.verbose,
		};

		/* before any process is attached: a busy port fails at once, no process
		 * was probed for nothing, a COMMAND has not started */
		t.prom = ms_prom_new(env.prometheus, &po);
		if (!t.prom) {
			err = -errno;
			fprintf(stderr, "memscope-bpf: cannot serve --prometheus %s: %s\n",
				env.prometheus, strerror(errno));
			goto cleanup;
		}
		fprintf(stderr, "memscope-bpf: serving metrics at %s\n", ms_prom_url(t.prom));
	}

	t.t0 = t.last_report = now_s();
	if (env.npids) {
		err = attach_pids(&t);
		nprocs = env.npids;
	} else if (env.command) {
		err = launch_command(&t);
	} else {
		nprocs = attach_every(&t);
		err = nprocs < 0 ? nprocs : 0;
	}
	if (err)
		goto cleanup;
	if (!env.command)
		attached_line(&t, nprocs);

	if (env.duration > 0)
		deadline = t.t0 + env.duration;
	next = t.t0 + env.interval;
	while (!exiting) {
		/* records come without a wakeup each: past a fill threshold the poll
		 * returns early, otherwise the timeout bounds how late a record is seen */
		err = ring_buffer__poll(t.rb, t.nheld ? 1 : 10 /* ms */);
		if (err >= 0)
			err = ring_buffer__consume(t.rb);
		if (t.nheld)
			serve_held(&t);
		drain_ready(&t);
		if (err < 0 && err != -EINTR) {
			fprintf(stderr, "memscope-bpf: ring buffer: %s\n", strerror(-err));
			break;
		}
		err = 0;
		if (t.nrescan)
			do_rescans(&t);
		if (leak_report) {
			leak_report = 0;
			leaks(&t);
		}
		if (t.launched) {
			err = serve_child(&t);
			if (err)
				goto cleanup; /* a start-up error: said alone, no figures */
			if (t.child_done)
				break;
		}
		if (env.npids) {
			check_pids(&t);
			if (!t.nalive)
				break;
		}
		if (now_s() >= next) {
			report(&t, MS_REC_INTERVAL);
			next += env.interval;
			if (next < now_s())
				next = now_s() + env.interval;
		}
		if (deadline && now_s() >= deadline)
			break;
	}
	/* what is still in the ring buffers belongs to the final figures */
	ring_buffer__consume(t.rb);
	ms_merge_drain(&t.merge, UINT64_MAX, apply_event, &t);
	if (t.merge.late)
		fprintf(stderr,
			"memscope-bpf: %llu records came after newer ones were applied (a CPU's "
			"ring held back more than %llu ms): counted in lost.late\n",
			(unsigned long long)t.merge.late, MERGE_MAX_WAIT_NS / 1000000);
	if (!t.stdout_gone && t.attached) {
		report(&t, MS_REC_FINAL);
		if (env.stacks)
			leaks(&t);
	}
	if (t.untraced_children)
		fprintf(stderr,
			"memscope-bpf: %" PRIu64 " child process%s ran untraced (-f traces them)\n",
			t.untraced_children, t.untraced_children == 1 ? "" : "es");
	if (t.folded) {
		int werr = ms_output_folded(&t.out, t.folded, &t.stats, env.folded_what,
					    env.folded_count, clock_of(&t) * 1e9,
					    env.min_age * 1e9);

		if (fclose(t.folded) || werr) {
			fprintf(stderr, "memscope-bpf: cannot write %s: %s\n", env.folded,
				strerror(werr ? -werr : errno));
			err = -EIO;
		}
		t.folded = NULL;
	}
	if (t.launched && t.child_done) {
		if (WIFEXITED(t.child_status))
			exit_code = WEXITSTATUS(t.child_status);
		else if (WIFSIGNALED(t.child_status))
			exit_code = 128 + WTERMSIG(t.child_status);
	}

cleanup:
	if (t.launch.gate >= 0)
		ms_launch_abort(&t.launch);
	if (t.launched && !t.child_done && err) {
		kill(t.launch.pid, SIGKILL);
		waitpid(t.launch.pid, NULL, 0);
	}
	ring_buffer__free(t.rb);
	for (i = 0; t.rings && i < t.nrings; i++) {
		if (t.rings[i].pos)
			munmap(t.rings[i].pos, t.rings[i].pos_len);
		if (t.rings[i].fd >= 0)
			close(t.rings[i].fd);
	}
	free(t.rings);
	ms_merge_free(&t.merge);
	if (t.rec && ms_recorder_close(t.rec) && !err) {
		if (!t.rec_failed)
			fprintf(stderr, "memscope-bpf: cannot write %s\n", env.record);
		err = -EIO;
	}
	ms_prom_free(t.prom);
	/* the probes go first: then nothing can stop a process any more, and the ones held
	 * at a stop (or with one pending, which SIGCONT cancels) run on untraced */
	ms_probes_free(t.probes);
	if (t.skel) {
		memscope__detach(t.skel);
		if (t.guard >= 0)
			ms_guard_release(bpf_map__fd(t.skel->maps.ms_pids));
	}
	if (t.launched && !t.child_done && !err)
		kill(t.launch.pid, SIGCONT);
	ms_guard_done(t.guard);
	memscope__destroy(t.skel);
	free(t.held);
	if (t.folded)
		fclose(t.folded); /* never written: the run failed */
	if (t.out_file && fclose(t.out_file) && !err) {
		fprintf(stderr, "memscope-bpf: cannot write %s: %s\n", env.output, strerror(errno));
		err = -EIO;
	}
	ms_stats_free(&t.stats);
	ms_symcache_free(t.syms);
	ms_numa_free(&t.numa);
	ms_stackmap_free(&t.stackmap);
	free(t.rescan);
	for (i = 0; i < env.npids; i++)
		if (t.pidfds[i] >= 0)
			close(t.pidfds[i]);
	if (err)
		return 1;
	return exit_code;
}
