/* env.c: the command line: options, their defaults and bounds, the usage text */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "memscope.h"
#include "env.h"
#include "prom.h"

#define STR(x) #x
#define XSTR(x) STR(x)

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
	"      --in-process[=block|lossy]\n"
	"                          how COMMAND's C library calls, and the own API of a\n"
	"                          jemalloc, tcmalloc or mimalloc it loads (mallocx, tc_malloc,\n"
	"                          mi_malloc...), are recorded: by libraries preloaded into it\n"
	"                          (the default for COMMAND: no kernel entry per call, much\n"
	"                          cheaper than uprobes); a thread whose ring is full sleeps\n"
	"                          (block, the default: exact, the program stalls) or loses\n"
	"                          the record (lossy, counted); with -f its children too; what\n"
	"                          the libraries cannot record (--alloc, --preset, a set-user-ID\n"
	"                          program, --stacks --stack-unwind fp, --stacks of a program\n"
	"                          that loads libstdc++ before its jemalloc, tcmalloc or\n"
	"                          mimalloc) falls back to uprobes (-v says why), as does\n"
	"                          COMMAND when the libraries are missing or another\n"
	"                          version's (said; given by name, --in-process is then an\n"
	"                          error)\n"
	"                          e.g. memscope-bpf --in-process=lossy -- ./app\n"
	"      --bpf               COMMAND's calls by uprobes, as for -p, not in-process\n"
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
	"      --stacks            the user stack of each allocation: sites by stack (else by\n"
	"                          caller) in the records, a leak report at exit (and on\n"
	"                          SIGUSR1, by caller without it), --folded; a COMMAND's stacks\n"
	"                          are walked in the process by its preloaded library\n"
	"                          (libunwind), --bpf's and -p's by the BPF programs\n"
	"                          e.g. memscope-bpf -p 42 --stacks\n"
	"      --stack-depth N     frames per stack (default " XSTR(MS_ENV_STACK_DEPTH) ", at most " XSTR(
		MS_MAX_STACK_DEPTH) ")\n"
				    "      --stack-map-size N  distinct stacks kept (default " XSTR(MS_ENV_STACK_ENTRIES) ", at most " XSTR(
					    MS_ENV_STACK_ENTRIES_MAX) ")\n"
								      "      --stack-unwind HOW  how stacks are walked: auto (default) follows each\n"
								      "                          object's call frame information (.eh_frame: code built\n"
								      "                          without frame pointers) and frame pointers where an\n"
								      "                          object has none; dwarf only the former; fp only frame\n"
								      "                          pointers (bpf_get_stackid)\n"
								      "      --unwind-rows N     call frame rows kept for auto and dwarf (default " XSTR(
									      MS_ENV_UNWIND_ROWS) ",\n"
												  "                          12 bytes each; at most " XSTR(
													  MS_ENV_UNWIND_ROWS_MAX) ")\n"
																  "      --sample-bytes N    stacks for a sample of the allocations, a mean of N bytes\n"
																  "                          apart per thread (K, M, G: KiB...); site figures are then\n"
																  "                          unbiased estimates, process and allocator figures stay exact\n"
																  "                          e.g. --stacks --sample-bytes 512K\n"
																  "      --min-age SECS      a live block older than this counts as leaked (default " XSTR(
																	  MS_ENV_MIN_AGE) ")\n"
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
																			  "  -i, --interval SECS     print statistics every SECS seconds (default " XSTR(
																				  MS_ENV_INTERVAL) ")\n"
																						   "                          e.g. memscope-bpf -i 5\n"
																						   "  -d, --duration SECS     stop after SECS seconds   e.g. memscope-bpf -d 30\n"
																						   "  -j, --json              JSON Lines instead of a table   e.g. memscope-bpf --json\n"
																						   "  -n, --top N             processes per table, busiest first (default " XSTR(
																							   MS_ENV_TOP) ", 0: all)\n"
																								       "                          e.g. memscope-bpf -n 5\n"
																								       "  -q, --quiet             no records on stdout   e.g. memscope-bpf -q --prometheus :9464\n"
																								       "  -o, --output FILE       write the records to FILE, not stdout (which stays the\n"
																								       "                          COMMAND's)   e.g. memscope-bpf -j -o run.jsonl -- ./app\n"
																								       "      --folded FILE       at the end, the sites as folded stacks for flamegraph.pl,\n"
																								       "                          inferno or speedscope (needs --stacks)\n"
																								       "                          e.g. --stacks --folded app.folded; flamegraph.pl app.folded\n"
																								       "      --folded-weight bytes|count   (default bytes)\n"
																								       "      --folded-what allocated|live|leaked   (default live)\n"
																								       "      --folded-lines      frames as function_(file.c:42), one box a line (default:\n"
																								       "                          by function, one box a function)\n"
																								       "      --pprof FILE        at the end, the sites as a gzip'd pprof heap profile for\n"
																								       "                          go tool pprof, Pyroscope, Parca (needs --stacks)\n"
																								       "                          e.g. --stacks --pprof heap.pb.gz; go tool pprof -http=: heap.pb.gz\n"
																								       "      --pprof-dir DIR     at each record, a profile per process in DIR, named\n"
																								       "                          PID-COMM-TIME.pb.gz (pprof -diff_base) (needs --stacks)\n"
																								       "      --html FILE         at the end (and on SIGUSR1), a self-contained HTML report:\n"
																								       "                          timeline, sizes, lifetimes, pools, NUMA, sites, leaks\n"
																								       "                          e.g. memscope-bpf --html run.html -- ./app\n"
																								       "      --pool-min-share X  findings: a size class with this share of allocations\n"
																								       "                          (default " XSTR(
																									       MS_POOL_MIN_SHARE) ") and a median lifetime under\n"
																												  "      --pool-max-lifetime SECS  (default 0.001) is a slab candidate\n"
																												  "      --pool-min-allocs N allocations of a process before it is judged (" XSTR(
																													  MS_POOL_MIN_ALLOCS) ")\n"
																															      "      --pool-min-chunks N same-size chunks a call site keeps to be a pool candidate\n"
																															      "                          (default " XSTR(
																																      MS_POOL_MIN_CHUNKS) ")   e.g. --pool-min-chunks 8\n"
																																			  "      --prometheus ADDR:PORT\n"
																																			  "                          serve /metrics to Prometheus, on loopback unless ADDR\n"
																																			  "                          says otherwise   e.g. memscope-bpf --prometheus :9464\n"
																																			  "                          (every interface: --prometheus 0.0.0.0:9464)\n"
																																			  "                          with --stacks also /debug/pprof/heap and /allocs\n"
																																			  "      --prometheus-max-processes N\n"
																																			  "                          processes with series of their own, the most live\n"
																																			  "                          bytes first; the rest summed per comm (default " XSTR(
																																				  MS_PROM_DEFAULT_MAX_PROCESSES) ")\n"
																																								 "      --prometheus-grace SECS\n"
																																								 "                          keep an exited process' series SECS (default " XSTR(
																																									 MS_PROM_DEFAULT_GRACE) ")\n"
																																												"      --record FILE       also write the raw event stream to FILE (compressed)\n"
																																												"                          e.g. memscope-bpf -p 42 -d 60 --record app.msr\n"
																																												"      --replay FILE       print the statistics of a recording; no BPF, no root\n"
																																												"                          e.g. memscope-bpf --replay app.msr --json\n"
																																												"\n"
																																												"Limits\n"
																																												"      --ringbuf-size SIZE BPF ring buffers' size, all CPUs' together, K/M/G\n"
																																												"                          suffix (default " XSTR(
																																													MS_ENV_RINGBUF_MB) "M)\n"
																																															   "                          e.g. memscope-bpf --ringbuf-size 64M\n"
																																															   "      --max-live N        blocks tracked at most (default " XSTR(
																																																   MS_ENV_MAX_LIVE) "; 64 bytes each at\n"
																																																		    "                          most, 128 for blocks of 1 KiB or more); past it calls\n"
																																																		    "                          are counted, blocks not tracked\n"
																																																		    "      --max-processes N   processes tracked at most (default " XSTR(
																																																			    MS_ENV_MAX_PROCS) ")\n"
																																																					      "                          e.g. memscope-bpf --max-live 100000000\n"
																																																					      "  -v, --verbose           say where each probe goes; -vv adds libbpf's log\n"
																																																					      "  -h, --help              this help\n"
																																																					      "\n"
																																																					      "Exit status: 0 ok, 1 runtime error, 2 usage error; with COMMAND, the command's.\n"
																																																					      "See memscope-bpf(8) for the figures and the JSON fields.\n";

static void die_usage(const char *fmt, const char *arg)
{
	fprintf(stderr, "memscope-bpf: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (see memscope-bpf --help)\n");
	exit(2);
}

int ms_env_parse_secs(const char *s, bool zero_ok, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(zero_ok ? v >= 0 : v > 0) || v > 1e9)
		return -EINVAL;
	*out = v;
	return 0;
}

/* Seconds more than 0, or a usage error with the message fmt */
static double secs(const char *s, const char *fmt)
{
	double v = 0;

	if (ms_env_parse_secs(s, false, &v))
		die_usage(fmt, s);
	return v;
}

int ms_env_parse_bytes(const char *s, uint64_t *out)
{
	unsigned long long v;
	unsigned shift = 0;
	char *end;

	if (!s || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	switch (*end) {
	case 'K':
	case 'k':
		shift = 10, end++;
		break;
	case 'M':
	case 'm':
		shift = 20, end++;
		break;
	case 'G':
	case 'g':
		shift = 30, end++;
		break;
	}
	if (*end || v > (UINT64_MAX >> shift))
		return -EINVAL;
	*out = v << shift;
	return 0;
}

int ms_env_parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || s[0] == '-')
		return -EINVAL;
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
		return -ERANGE;
	*out = v;
	return 0;
}

int ms_env_parse_pids(const char *s, pid_t *pids, int *n, int max)
{
	const char *p = s;
	char *end;
	long v;

	while (*p) {
		errno = 0;
		v = strtol(p, &end, 10);
		if (errno || end == p || v <= 0 || v > INT32_MAX || (*end && *end != ','))
			return -EINVAL;
		if (*n == max)
			return -E2BIG;
		pids[(*n)++] = v;
		p = *end ? end + 1 : end;
	}
	return *n ? 0 : -EINVAL;
}

int ms_env_parse_u32(const char *s, unsigned long *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v > UINT32_MAX)
		return -EINVAL;
	*out = v;
	return 0;
}

int ms_env_parse_count(const char *s, unsigned long *out)
{
	unsigned long v;

	if (ms_env_parse_u32(s, &v) || !v)
		return -EINVAL;
	*out = v;
	return 0;
}

/* A count from 1, or a usage error naming opt */
static unsigned long count(const char *s, const char *opt)
{
	unsigned long v = 0;

	if (ms_env_parse_count(s, &v)) {
		fprintf(stderr,
			"memscope-bpf: invalid %s '%s': a count from 1 (see memscope-bpf "
			"--help)\n",
			opt, s);
		exit(2);
	}
	return v;
}

static void parse_spec(struct ms_env *env, const char *text, enum ms_fn_kind kind)
{
	char err[512];

	if (env->nspecs == MS_ENV_MAX_SPECS)
		die_usage("more than %s --alloc, --free and --realloc", XSTR(MS_ENV_MAX_SPECS));
	if (ms_allocspec_parse(text, kind, &env->specs[env->nspecs], err, sizeof(err)))
		die_usage("%s", err);
	if (ms_preset_find(env->specs[env->nspecs].allocator)) {
		snprintf(err, sizeof(err),
			 "%s '%s': '%s' names a known allocator: choose another name",
			 ms_allocspec_option(kind), text, env->specs[env->nspecs].allocator);
		die_usage("%s", err);
	}
	env->nspecs++;
}

static void parse_preset(struct ms_env *env, const char *name)
{
	const struct ms_preset *p = ms_preset_find(name);

	if (!p || p->automatic || p->kind == MS_AK_LIBC)
		die_usage("unknown --preset '%s' (presets: pymalloc, rust; libc, jemalloc, "
			  "tcmalloc and mimalloc are found without one)",
			  name);
	if (env->npresets < MS_ENV_MAX_PRESETS)
		env->presets[env->npresets++] = p;
}

void ms_env_parse(struct ms_env *env, int argc, char **argv)
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
		OPT_STACK_UNWIND,
		OPT_UNWIND_ROWS,
		OPT_SAMPLE_BYTES,
		OPT_MIN_AGE,
		OPT_FOLDED,
		OPT_FOLDED_WEIGHT,
		OPT_FOLDED_WHAT,
		OPT_FOLDED_LINES,
		OPT_PPROF,
		OPT_PPROF_DIR,
		OPT_HTML,
		OPT_IN_PROCESS,
		OPT_BPF,
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
		{ "stack-unwind", required_argument, NULL, OPT_STACK_UNWIND },
		{ "unwind-rows", required_argument, NULL, OPT_UNWIND_ROWS },
		{ "sample-bytes", required_argument, NULL, OPT_SAMPLE_BYTES },
		{ "min-age", required_argument, NULL, OPT_MIN_AGE },
		{ "folded", required_argument, NULL, OPT_FOLDED },
		{ "folded-weight", required_argument, NULL, OPT_FOLDED_WEIGHT },
		{ "folded-what", required_argument, NULL, OPT_FOLDED_WHAT },
		{ "folded-lines", no_argument, NULL, OPT_FOLDED_LINES },
		{ "pprof", required_argument, NULL, OPT_PPROF },
		{ "pprof-dir", required_argument, NULL, OPT_PPROF_DIR },
		{ "html", required_argument, NULL, OPT_HTML },
		{ "in-process", optional_argument, NULL, OPT_IN_PROCESS },
		{ "bpf", no_argument, NULL, OPT_BPF },
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
	char err[256];
	bool unwind_set = false;
	unsigned long v;
	int c, err_no;

	*env = (struct ms_env){
		.pool = MS_POOL_OPTS_DEFAULT,
		.stack_depth = MS_ENV_STACK_DEPTH,
		.max_live = MS_ENV_MAX_LIVE,
		.max_procs = MS_ENV_MAX_PROCS,
		.stack_entries = MS_ENV_STACK_ENTRIES,
		.unwind = MS_UNWIND_AUTO,
		.unwind_rows = MS_ENV_UNWIND_ROWS,
		.min_age = MS_ENV_MIN_AGE,
		.folded_what = MS_FOLDED_LIVE,
		.interval = MS_ENV_INTERVAL,
		.top = MS_ENV_TOP,
		.ringbuf_size = (uint64_t)MS_ENV_RINGBUF_MB << 20,
		.prom_max = MS_PROM_DEFAULT_MAX_PROCESSES,
		.prom_grace = MS_PROM_DEFAULT_GRACE,
	};
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+p:i:d:jn:qfo:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			err_no = ms_env_parse_pids(optarg, env->pids, &env->npids, MS_ENV_MAX_PIDS);
			if (err_no)
				die_usage(err_no == -E2BIG ? "too many pids in '%s'" :
							     "invalid pid list '%s'",
					  optarg);
			break;
		case 'i':
			env->interval = secs(optarg, "invalid interval '%s'");
			break;
		case 'd':
			env->duration = secs(optarg, "invalid duration '%s'");
			break;
		case 'j':
			env->json = true;
			break;
		case 'n':
			if (ms_env_parse_u32(optarg, &v))
				die_usage("invalid --top '%s'", optarg);
			env->top = v;
			break;
		case OPT_RINGBUF:
			err_no = ms_env_parse_size(optarg, &env->ringbuf_size);
			if (err_no)
				die_usage(err_no == -ERANGE ?
						  "invalid --ringbuf-size '%s': a power of "
						  "two from 4K to 4G" :
						  "invalid --ringbuf-size '%s'",
					  optarg);
			break;
		case OPT_NO_PLACEMENT:
			env->no_placement = true;
			break;
		case OPT_NO_MULTI:
			env->no_multi = true;
			break;
		case OPT_TRUST_FUSE:
			env->trust_fuse = true;
			break;
		case OPT_RECORD:
			env->record = optarg;
			break;
		case OPT_REPLAY:
			env->replay = optarg;
			break;
		case OPT_ALLOC:
		case OPT_FREE:
		case OPT_REALLOC:
			parse_spec(env, optarg,
				   c == OPT_ALLOC ? MS_FN_ALLOC :
				   c == OPT_FREE  ? MS_FN_FREE :
						    MS_FN_REALLOC);
			break;
		case OPT_PRESET:
			parse_preset(env, optarg);
			break;
		case OPT_POOL_SHARE:
			env->pool.min_share = secs(optarg, "invalid --pool-min-share '%s'");
			if (env->pool.min_share > 1)
				die_usage("invalid --pool-min-share '%s': a share from 0 to 1",
					  optarg);
			break;
		case OPT_POOL_LIFETIME:
			env->pool.max_lifetime_ns =
				secs(optarg, "invalid --pool-max-lifetime '%s' (seconds)") * 1e9;
			break;
		case OPT_POOL_ALLOCS:
			env->pool.min_allocs = count(optarg, "--pool-min-allocs");
			break;
		case OPT_POOL_CHUNKS:
			env->pool.min_chunks = count(optarg, "--pool-min-chunks");
			break;
		case OPT_NUMA_PAGES:
			env->numa_pages = true;
			break;
		case OPT_STACKS:
			env->stacks = true;
			break;
		case OPT_STACK_DEPTH:
			env->stack_depth = count(optarg, "--stack-depth");
			if (env->stack_depth > MS_MAX_STACK_DEPTH)
				die_usage("invalid --stack-depth '%s': at most " XSTR(
						  MS_MAX_STACK_DEPTH) " frames",
					  optarg);
			break;
		case OPT_STACK_MAP:
			env->stack_entries = count(optarg, "--stack-map-size");
			if (env->stack_entries > MS_ENV_STACK_ENTRIES_MAX)
				die_usage("invalid --stack-map-size '%s': at most " XSTR(
						  MS_ENV_STACK_ENTRIES_MAX) " stacks",
					  optarg);
			break;
		case OPT_STACK_UNWIND:
			if (!strcmp(optarg, "fp"))
				env->unwind = MS_UNWIND_FP;
			else if (!strcmp(optarg, "dwarf"))
				env->unwind = MS_UNWIND_DWARF;
			else if (!strcmp(optarg, "auto"))
				env->unwind = MS_UNWIND_AUTO;
			else
				die_usage("invalid --stack-unwind '%s' (fp, dwarf or auto)",
					  optarg);
			unwind_set = true;
			break;
		case OPT_UNWIND_ROWS:
			env->unwind_rows = count(optarg, "--unwind-rows");
			if (env->unwind_rows > MS_ENV_UNWIND_ROWS_MAX)
				die_usage("invalid --unwind-rows '%s': at most " XSTR(
						  MS_ENV_UNWIND_ROWS_MAX) " rows",
					  optarg);
			unwind_set = true;
			break;
		case OPT_SAMPLE_BYTES:
			if (ms_env_parse_bytes(optarg, &env->sample_bytes) || !env->sample_bytes ||
			    env->sample_bytes > MS_SAMPLE_MAX)
				die_usage("invalid --sample-bytes '%s': a byte count from 1 to 4G "
					  "(K, M, G)",
					  optarg);
			unwind_set = true;
			break;
		case OPT_MIN_AGE:
			/* 0: every live block */
			env->min_age = strcmp(optarg, "0") ?
					       secs(optarg, "invalid --min-age '%s' (seconds)") :
					       0;
			break;
		case OPT_FOLDED:
			env->folded = optarg;
			break;
		case OPT_MAX_LIVE:
			env->max_live = count(optarg, "--max-live");
			break;
		case OPT_MAX_PROCS:
			env->max_procs = count(optarg, "--max-processes");
			break;
		case OPT_FOLDED_WEIGHT:
			if (strcmp(optarg, "bytes") && strcmp(optarg, "count"))
				die_usage("invalid --folded-weight '%s': bytes or count", optarg);
			env->folded_count = !strcmp(optarg, "count");
			break;
		case OPT_PPROF:
			env->pprof = optarg;
			break;
		case OPT_PPROF_DIR:
			env->pprof_dir = optarg;
			break;
		case OPT_HTML:
			env->html = optarg;
			break;
		case OPT_IN_PROCESS:
			if (optarg && strcmp(optarg, "lossy") && strcmp(optarg, "block"))
				die_usage("invalid --in-process '%s': lossy or block", optarg);
			env->in_process = env->in_process_named = true;
			env->in_process_lossy = optarg && !strcmp(optarg, "lossy");
			break;
		case OPT_BPF:
			env->bpf = true;
			break;
		case OPT_FOLDED_LINES:
			env->folded_lines = true;
			break;
		case OPT_FOLDED_WHAT:
			if (!strcmp(optarg, "allocated"))
				env->folded_what = MS_FOLDED_ALLOCATED;
			else if (!strcmp(optarg, "live"))
				env->folded_what = MS_FOLDED_LIVE;
			else if (!strcmp(optarg, "leaked"))
				env->folded_what = MS_FOLDED_LEAKED;
			else
				die_usage("invalid --folded-what '%s': allocated, live or leaked",
					  optarg);
			break;
		case OPT_PROMETHEUS:
			if (ms_prom_parse_addr(optarg, &sa, &salen, err, sizeof(err)))
				die_usage("%s", err);
			env->prometheus = optarg;
			break;
		case OPT_PROM_MAX:
			if (ms_env_parse_u32(optarg, &v))
				die_usage("invalid --prometheus-max-processes '%s'", optarg);
			env->prom_max = v;
			break;
		case OPT_PROM_GRACE:
			if (ms_env_parse_secs(optarg, true, &env->prom_grace))
				die_usage("invalid --prometheus-grace '%s'", optarg);
			break;
		case 'q':
			env->quiet = true;
			break;
		case 'f':
			env->follow = true;
			break;
		case 'o':
			env->output = optarg;
			break;
		case 'v':
			env->verbose++;
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
	env->argc = argc;
	env->argv = argv;
	if (optind < argc)
		env->command = &argv[optind];
	if (env->command && env->npids)
		die_usage("%s", "-p and a COMMAND cannot be combined");
	if (env->in_process && !env->command)
		die_usage("%s", "--in-process traces a COMMAND it starts: -- COMMAND [ARGS...]");
	if (env->bpf && !env->command)
		die_usage("%s", "--bpf chooses how a COMMAND is traced: -- COMMAND [ARGS...] (-p "
				"and every-process mode always use uprobes)");
	if (env->bpf && env->in_process)
		die_usage("%s", "--bpf and --in-process choose two ways: one of them");
	/* a COMMAND records its own calls unless --bpf says otherwise */
	if (env->command && !env->bpf)
		env->in_process = true;
	if (env->folded && !env->stacks && !env->replay)
		die_usage("%s", "--folded needs --stacks (or --replay of a recording with them)");
	if ((env->pprof || env->pprof_dir) && !env->stacks && !env->replay)
		die_usage("%s", "--pprof and --pprof-dir need --stacks (or --replay of a recording "
				"with them)");
	if (unwind_set && !env->stacks)
		die_usage("%s", "--stack-unwind, --unwind-rows and --sample-bytes need --stacks");
	if (env->replay && (env->command || env->npids || env->record))
		die_usage("%s", "--replay reads a recording: no -p, COMMAND or --record with it");
	if (env->replay && env->prometheus)
		die_usage("%s", "--prometheus serves a live trace: not with --replay");
	if (env->follow && !env->command && !env->npids)
		die_usage("%s", "-f follows the children of -p processes or of a COMMAND: every "
				"process is traced without it");
	if (env->follow && env->replay)
		die_usage("%s", "-f follows live processes: not with --replay");
}
