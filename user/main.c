/* main.c: memscope-bpf's lifecycle: options, open, load, attach, poll, report, clean up */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "memscope.h"
#include "memscope.skel.h"
#include "catalog.h"
#include "clock.h"
#include "env.h"
#include "guard.h"
#include "outfile.h"
#include "html.h"
#include "inproc.h"
#include "memscope_shm.h"
#include "pprofs.h"
#include "probes.h"
#include "prom.h"
#include "record.h"
#include "report.h"
#include "rings.h"
#include "safepath.h"
#include "sample.h"
#include "symcache.h"
#include "targets.h"
#include "tracer.h"
#include "ulink.h"
#include "unwind.h"

static volatile sig_atomic_t exiting;
static volatile sig_atomic_t leak_report; /* SIGUSR1: a leak report now */
/* stdout's line buffer: a line (a JSON record) is one write, so a launched COMMAND that
 * shares stdout cannot cut into a record longer than the default buffer (4 KiB on a pipe);
 * glibc sizes a buffer it allocates itself by the file's block, whatever setvbuf asks */
static char stdout_buf[MS_OUT_LINE_BUF];
static int libbpf_verbose; /* -v count: -vv shows libbpf's log */

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
	if (level == LIBBPF_DEBUG && libbpf_verbose < 2)
		return 0;
	if (libbpf_verbose < 2 && level != LIBBPF_WARN)
		return 0;
	return vfprintf(stderr, fmt, args);
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

/* One record, in timestamp order: its node checked, recorded, applied to the statistics */
static void apply(void *ctx, const struct ms_event *e)
{
	struct ms_tracer *t = ctx;
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
			t->env->record, strerror(-err));
	}
	ms_stats_apply(&t->stats, e);
	if (t->inproc && (e->type == MS_EV_EXIT || e->type == MS_EV_EXEC))
		ms_inproc_ended(t->inproc, e->tgid, e->ts_ns);
	if (t->rec && t->env->stacks && !t->rec_failed)
		ms_report_record_sites(t, e->tgid);
}

static const struct ms_rings_fns rings_fns = {
	.seen = ms_targets_seen,
	.apply = apply,
};

/* Opens the BPF object and sets what it is loaded with: the pid filter, -f's fork
 * program, the rings, the stack map, uprobe_multi links */
static int open_bpf(struct ms_tracer *t, struct ms_probe_config *cfg)
{
	const struct ms_env *env = t->env;
	int err;

	t->skel = memscope__open();
	if (!t->skel) {
		fprintf(stderr, "memscope-bpf: cannot open the BPF object: %s\n", strerror(errno));
		return -errno;
	}
	t->skel->rodata->self_tgid = getpid();
	t->filtering = env->npids || env->command;
	t->skel->rodata->filter_pids = t->filtering;
	t->skel->rodata->follow = env->follow;
	/* -f: the fork program that follows children (and holds them) replaces the plain one */
	if (env->follow && !kernel_has_func("bpf_send_signal_task")) {
		fprintf(stderr,
			"memscope-bpf: -f needs Linux 6.13 or later (bpf_send_signal_task), "
			"this kernel has not\n");
		return -ENOTSUP;
	}
	bpf_program__set_autoload(t->skel->progs.ms_fork, !env->follow);
	bpf_program__set_autoload(t->skel->progs.ms_fork_follow, env->follow);
	err = ms_rings_create(&t->rings, env->ringbuf_size, t->skel->maps.ms_rings,
			      t->inproc ? MS_SHM_RINGS : 0);
	if (err) {
		fprintf(stderr, "memscope-bpf: cannot create the ring buffers: %s\n",
			strerror(-err));
		return err;
	}
	t->skel->rodata->wakeup_bytes = t->rings.size / 8;
	t->skel->rodata->stacks = env->stacks;
	t->skel->rodata->unwind = env->stacks ? env->unwind : MS_UNWIND_FP;
	t->skel->rodata->stack_depth = env->stack_depth;
	t->skel->rodata->stack_entries = env->stack_entries;
	t->skel->rodata->sample_bytes = env->stacks ? env->sample_bytes : 0;
	ms_sample_table((uint32_t *)t->skel->rodata->log2_q16);
	if (env->stacks && env->unwind == MS_UNWIND_FP) {
		bpf_map__set_max_entries(t->skel->maps.ms_stacks, env->stack_entries);
		bpf_map__set_value_size(t->skel->maps.ms_stacks, env->stack_depth * sizeof(__u64));
	} else if (env->stacks) {
		/* the programs unwind from CFI rows (unwind.h) into ms_ustacks */
		bpf_map__set_max_entries(t->skel->maps.ms_ustacks, env->stack_entries);
		bpf_map__set_max_entries(t->skel->maps.ms_ustack_ids, env->stack_entries);
		bpf_map__set_max_entries(t->skel->maps.ms_cfi_rows, env->unwind_rows);
		bpf_map__set_max_entries(t->skel->maps.ms_cfi_objs, MS_ENV_UNWIND_OBJECTS);
		bpf_map__set_max_entries(t->skel->maps.ms_cfi_procs, MS_ENV_UNWIND_PROCS);
	}
	/* uprobe_multi links: one per object and kind instead of a perf event per probe,
	 * cheaper on every hit and detached in one go; the programs are loaded for them */
	cfg->multi = !env->no_multi && ms_ulink_supported();
	if (cfg->multi) {
		bpf_program__set_expected_attach_type(t->skel->progs.ms_entry,
						      MS_BPF_TRACE_UPROBE_MULTI);
		bpf_program__set_expected_attach_type(t->skel->progs.ms_return,
						      MS_BPF_TRACE_UPROBE_MULTI);
	}
	if (env->verbose)
		fprintf(stderr, "memscope-bpf: probes attach as %s\n",
			cfg->multi    ? "uprobe_multi links" :
			env->no_multi ? "perf-event uprobes (--no-uprobe-multi)" :
					"perf-event uprobes (this kernel has no "
					"uprobe_multi links with a process filter)");
	return 0;
}

/* After the load: the guard, the recorder, the statistics and their output, the
 * symbols, the probes, the rings read, the tracepoints, the metrics server */
static int set_up(struct ms_tracer *t, struct ms_probe_config *cfg)
{
	struct ms_prom_opts po;
	const struct ms_env *env = t->env;
	int err;

	/* before any probe: processes this tracer stops are let go even if it is killed */
	if (env->command || env->follow) {
		t->guard = ms_guard_start(bpf_map__fd(t->skel->maps.ms_pids));
		if (t->guard < 0) {
			fprintf(stderr, "memscope-bpf: cannot start the guard process: %s\n",
				strerror(-t->guard));
			return t->guard;
		}
	}
	t->every = !env->npids && !env->command;
	t->cat = ms_catalog_new();
	if (!t->cat)
		return -ENOMEM;
	if (env->record) {
		t->rec = ms_recorder_open(env->record, t->cat, env->stacks ? MS_RECORD_STACKS : 0);
		if (!t->rec) {
			err = -errno;
			fprintf(stderr, "memscope-bpf: cannot create %s: %s\n", env->record,
				ms_outfile_strerror(err));
			return err;
		}
		err = env->stacks && env->sample_bytes ?
			      ms_recorder_sampling(t->rec, env->sample_bytes) :
			      0;
		if (err) {
			fprintf(stderr, "memscope-bpf: cannot write %s: %s\n", env->record,
				strerror(-err));
			return err;
		}
	}
	ms_stats_init(&t->stats, t->cat, ms_report_on_end, t);
	t->out.f = t->out_file ? t->out_file : stdout;
	ms_output_set_json(&t->out, env->json);
	t->out.max_rows = env->top;
	t->out.pool = env->pool;
	t->out.numa_pages = env->numa_pages;
	/* sites always: by caller (in every record) without --stacks, whose stacks deepen them */
	t->stats.sites = t->out.sites = true;
	t->stacks = env->stacks;
	t->stats.sample_bytes = env->stacks ? env->sample_bytes : 0;
	t->stats.max_blocks = env->max_live;
	t->stats.max_procs = env->max_procs;
	if (env->stacks && env->unwind == MS_UNWIND_FP) {
		err = ms_stackmap_init(&t->stackmap, bpf_map__fd(t->skel->maps.ms_stacks),
				       env->stack_depth, env->stack_entries);
		if (err)
			return err;
		t->out.stacks = &t->stackmap;
	} else if (env->stacks) {
		err = ms_stackmap_init(&t->stackmap, bpf_map__fd(t->skel->maps.ms_ustacks),
				       MS_MAX_STACK_DEPTH, env->stack_entries);
		if (err)
			return err;
		t->out.stacks = &t->stackmap;
		t->unwind = ms_unwind_new(bpf_map__fd(t->skel->maps.ms_cfi_rows), env->unwind_rows,
					  bpf_map__fd(t->skel->maps.ms_cfi_objs),
					  MS_ENV_UNWIND_OBJECTS,
					  bpf_map__fd(t->skel->maps.ms_cfi_procs), env->verbose);
		if (!t->unwind)
			return -ENOMEM;
	} else {
		/* no stacks: a site is its caller, one frame */
		ms_stackmap_init(&t->stackmap, -1, 1, 0);
		t->out.stacks = &t->stackmap;
	}
	if (env->stacks && t->inproc) {
		/* the stacks the command's library walks: ids tagged MS_STACK_INPROC */
		struct ms_shm_stacks shape;
		const void *table = ms_inproc_stacks(t->inproc, &shape);

		err = table ? ms_stackmap_set_inproc(&t->stackmap, table, &shape) : 0;
		if (err)
			return err;
	}
	if (ms_numa_read(&t->numa, "/sys"))
		fprintf(stderr, "memscope-bpf: cannot read the NUMA topology from /sys: per-node "
				"figures use the kernel's node ids only\n");
	t->syms = ms_symcache_new();
	if (!t->syms)
		return -ENOMEM;
	t->out.symbolize = ms_symcache_resolve;
	t->out.frames_of = ms_symcache_frames;
	t->out.object = ms_symcache_object;
	t->out.symbolize_ctx = t->syms;
	cfg->specs = t->specs;
	cfg->nspecs = env->nspecs;
	cfg->presets = env->presets;
	cfg->npresets = env->npresets;
	cfg->place = !env->no_placement;
	cfg->cxx = env->stacks;
	cfg->verbose = env->verbose;
	t->probes = ms_probes_new(t->cat, t->skel->progs.ms_entry, t->skel->progs.ms_return, cfg);
	if (!t->probes) {
		fprintf(stderr, "memscope-bpf: cannot set up the probes: %s\n", strerror(errno));
		return -errno;
	}
	err = ms_rings_open(&t->rings, bpf_map__fd(t->skel->maps.ms_rings), &rings_fns, t);
	if (err) {
		fprintf(stderr, "memscope-bpf: cannot read the ring buffers: %s\n", strerror(-err));
		return err;
	}
	po = (struct ms_prom_opts){
		.max_processes = env->prom_max,
		.grace_s = env->prom_grace,
		.verbose = env->verbose,
	};
	err = memscope__attach(t->skel);
	if (err) {
		fprintf(stderr, "memscope-bpf: cannot attach the exec/exit tracepoints: %s\n",
			strerror(-err));
		return err;
	}
	t->pprofs = ms_pprofs_new(t, &po);
	if (!t->pprofs && errno)
		return -errno;
	if (env->prometheus) {
		/* before any process is attached: a busy port fails at once, no process
		 * was probed for nothing, a COMMAND has not started */
		t->prom = ms_prom_new(env->prometheus, &po);
		if (!t->prom) {
			fprintf(stderr, "memscope-bpf: cannot serve --prometheus %s: %s\n",
				env->prometheus, strerror(errno));
			return -errno;
		}
		fprintf(stderr, "memscope-bpf: serving metrics at %s\n", ms_prom_url(t->prom));
	}
	return 0;
}

/* Until a signal, -d, or the end of what is traced: records read and applied, what they
 * ask for served, a record each interval. Returns 0, or -errno of a start-up error of
 * the COMMAND (said alone: no figures). */
static int run(struct ms_tracer *t)
{
	const struct ms_env *env = t->env;
	double deadline = env->duration > 0 ? t->t0 + env->duration : 0;
	double next = t->t0 + env->interval;
	bool done = false;
	size_t inproc = 0;
	int err;

	while (!exiting && !t->stop) {
		/* the in-process rings wake nobody: read every millisecond, and at once again
		 * while a read brings many (MS_INPROC_AGAIN: a writer may be waiting) */
		err = ms_rings_read(&t->rings, inproc >= MS_INPROC_AGAIN ? 0 :
					       t->nheld || t->inproc	 ? 1 :
									   10 /* ms */);
		inproc = ms_targets_inproc_read(t);
		ms_targets_serve_held(t);
		ms_rings_apply_ready(&t->rings);
		if (err < 0 && err != -EINTR) {
			fprintf(stderr, "memscope-bpf: ring buffer: %s\n", strerror(-err));
			break;
		}
		if (leak_report) {
			leak_report = 0;
			ms_report_leaks(t, false);
			ms_report_html(t, true);
		}
		err = ms_targets_serve(t, &done);
		if (err)
			return err;
		if (done)
			break;
		if (ms_now_s() >= next) {
			ms_report(t, MS_REC_INTERVAL);
			next += env->interval;
			if (next < ms_now_s())
				next = ms_now_s() + env->interval;
		}
		if (deadline && ms_now_s() >= deadline)
			break;
	}
	/* what is still in the ring buffers belongs to the final figures */
	ms_targets_inproc_read(t);
	ms_rings_drain(&t->rings);
	if (t->rings.merge.late)
		fprintf(stderr,
			"memscope-bpf: %llu records came after newer ones were applied (a ring "
			"held back more than %llu ms): counted in lost.late\n",
			(unsigned long long)t->rings.merge.late, MS_RINGS_MAX_WAIT_NS / 1000000);
	return 0;
}

/* One cleanup for every way out; the exit status */
static int clean_up(struct ms_tracer *t, int err, int exit_code)
{
	const struct ms_env *env = t->env;

	if (t->launch.gate >= 0)
		ms_launch_abort(&t->launch);
	if (t->launched && !t->child_done && err) {
		kill(t->launch.pid, SIGKILL);
		waitpid(t->launch.pid, NULL, 0);
	}
	ms_rings_free(&t->rings);
	if (t->rec && ms_recorder_close(t->rec) && !err) {
		if (!t->rec_failed)
			fprintf(stderr, "memscope-bpf: cannot write %s\n", env->record);
		err = -EIO;
	}
	ms_prom_free(t->prom);
	ms_pprofs_free(t->pprofs); /* after the server that serves it */
	ms_html_free(t->html);
	/* the probes go first: then nothing can stop a process any more, and the ones held
	 * at a stop (or with one pending, which SIGCONT cancels) run on untraced */
	ms_probes_free(t->probes);
	if (t->skel) {
		memscope__detach(t->skel);
		if (t->guard >= 0)
			ms_guard_release(bpf_map__fd(t->skel->maps.ms_pids));
	}
	if (t->launched && !t->child_done && !err)
		kill(t->launch.pid, SIGCONT);
	ms_guard_done(t->guard);
	memscope__destroy(t->skel);
	if (t->folded)
		fclose(t->folded); /* never written: the run failed */
	if (t->out_file && fclose(t->out_file) && !err) {
		fprintf(stderr, "memscope-bpf: cannot write %s: %s\n", env->output,
			strerror(errno));
		err = -EIO;
	}
	ms_stats_free(&t->stats);
	ms_catalog_free(t->cat);
	ms_symcache_free(t->syms);
	ms_numa_free(&t->numa);
	ms_stackmap_free(&t->stackmap);
	ms_unwind_free(t->unwind);
	ms_targets_free(t);
	return err ? 1 : exit_code;
}

int main(int argc, char **argv)
{
	static struct ms_env env;
	struct ms_probe_config cfg = { 0 };
	struct ms_tracer t = { .env = &env, .guard = -1 };
	struct sigaction sa = { .sa_handler = on_signal };
	int err = 0, exit_code = 0;

	ms_env_parse(&env, argc, argv);
	ms_targets_init(&t);
	t.specs = env.specs;
	libbpf_verbose = env.verbose;
	ms_path_trust_fuse(env.trust_fuse);
	setvbuf(stdout, stdout_buf, _IOLBF, sizeof(stdout_buf));
	/* symbols come from the machine's files: never from the network (debuginfod) */
	unsetenv("DEBUGINFOD_URLS");
	if (env.replay)
		return ms_report_replay(&env, NULL);
	libbpf_set_print(libbpf_log);
	if (check_system())
		return 1;

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (env.command) {
		err = ms_targets_prepare_command(&t, env.command);
		if (err)
			return 1;
	}
	/* the files it writes are created first: a bad one is a start-up error */
	if ((env.output && !(t.out_file = ms_outfile_fopen(env.output, true))) ||
	    (env.folded && !(t.folded = ms_outfile_fopen(env.folded, false))) ||
	    (env.html && !(t.html = ms_report_html_new(&env)))) {
		err = -errno;
		goto cleanup;
	}
	err = open_bpf(&t, &cfg);
	if (err)
		goto cleanup;
	err = memscope__load(t.skel);
	if (err) {
		fprintf(stderr, "memscope-bpf: cannot load the BPF programs: %s\n", strerror(-err));
		goto cleanup;
	}
	err = set_up(&t, &cfg);
	if (err)
		goto cleanup;

	t.t0 = t.last_report = ms_now_s();
	err = ms_targets_start(&t);
	if (err)
		goto cleanup;
	err = run(&t);
	if (err)
		goto cleanup; /* a start-up error: said alone, no figures */
	err = ms_report_end(&t);
	if (t.launched && t.child_done) {
		if (WIFEXITED(t.child_status))
			exit_code = WEXITSTATUS(t.child_status);
		else if (WIFSIGNALED(t.child_status))
			exit_code = 128 + WTERMSIG(t.child_status);
	}
cleanup:
	return clean_up(&t, err, exit_code);
}
