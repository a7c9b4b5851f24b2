/* targets.c: what is traced: -p processes, a launched COMMAND, or every process; their
 * loaders, the objects they map later, the children -f holds */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "elfsym.h"
#include "memscope.skel.h"
#include "presets.h"
#include "probes.h"
#include "procmaps.h"
#include "record.h"
#include "deps.h"
#include "elfsym.h"
#include "inproc.h"
#include "memscope_shm.h"
#include "symcache.h"
#include "targets.h"
#include "unwind.h"
#include "vec.h"

/*
 * The name (its thread-group leader's) and start time (clock ticks since boot) of process
 * pid, from /proc/PID/stat: 0, or -1 when it is gone. The start time tells a process
 * from a later one with the same pid.
 */
int ms_proc_ident(pid_t pid, char comm[MS_COMM_LEN + 1], uint64_t *start)
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

	snprintf(comm, len, "%s", ms_proc_ident(pid, name, &start) ? "?" : name);
}

/* A process shown from the start (-p, COMMAND) that stays for the final record */
static void pin(struct ms_tracer *t, pid_t pid)
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

static void queue_rescan(struct ms_tracer *t, pid_t pid)
{
	MS_VEC_PUSH(t->rescan, t->nrescan, t->cap_rescan, pid);
}

/* -f: the kernel stopped pid for the daemon (why: the record that said so) */
static void hold(struct ms_tracer *t, pid_t pid, uint8_t why, bool running)
{
	struct ms_held h = { .pid = pid, .why = why, .running = running };

	if (MS_VEC_PUSH(t->held, t->nheld, t->cap_held, h) && !running)
		kill(pid, SIGCONT); /* untraced rather than stopped for good */
}

/*
 * Reads pid's mappings into maps, once for everything an attach does, and attaches to
 * them (scope and loaders as ms_probes_attach_pid); with snapshot, the symbolizer's copy
 * is taken from the same mappings. Returns as ms_probes_attach_pid.
 */
static int attach_maps(struct ms_tracer *t, struct ms_maps *maps, pid_t pid, pid_t scope,
		       bool loaders, bool snapshot)
{
	int err = ms_maps_read("/proc", pid, maps);

	if (err)
		return err;
	err = ms_probes_attach_pid(t->probes, maps, scope, loaders);
	if (snapshot && t->syms)
		ms_symcache_snapshot(t->syms, maps);
	if (t->unwind && err >= 0)
		ms_unwind_add(t->unwind, maps);
	return err;
}

static void do_rescans(struct ms_tracer *t)
{
	struct ms_maps maps = { 0 };
	size_t i;
	int err;

	for (i = 0; i < t->nrescan; i++) {
		pid_t pid = t->rescan[i];

		err = attach_maps(t, &maps, pid, t->every ? -1 : pid, t->every, true);
		if (err > 0 && t->env->verbose)
			fprintf(stderr, "memscope-bpf: attached to %d new object%s for pid %d\n",
				err, err == 1 ? "" : "s", (int)pid);
	}
	ms_maps_free(&maps);
	t->nrescan = 0;
}

static void attached_line(struct ms_tracer *t, int nprocs)
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
static bool missing_spec(struct ms_tracer *t)
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
		ms_allocspec_option(t->specs[i].kind), t->specs[i].text, t->specs[i].function,
		t->specs[i].object[0] ? t->specs[i].object :
					"the executable or any library it maps");
	return true;
}

struct loader_ctx {
	struct ms_tracer *t;
	pid_t pid;
	bool stop;
	int err;
};

static int loader_one(const struct ms_mapping *m, void *arg)
{
	struct loader_ctx *c = arg;
	int err;

	if (!ms_is_loader_path(m->path) || m->deleted)
		return 0;
	err = ms_probes_attach_loader_mapped(c->t->probes, c->pid, m, c->stop);
	if (err && err != -ENOENT)
		c->err = err;
	return 1;
}

/* The loader probe of a -p process, for the libraries it loads later; with stop, it
 * stops at each change until the daemon has attached (-f) */
static int attach_loader_of(struct ms_tracer *t, const struct ms_maps *maps, bool stop)
{
	struct loader_ctx c = { .t = t, .pid = maps->pid, .stop = stop };
	pid_t pid = maps->pid;

	ms_maps_each(maps, loader_one, &c);
	if (c.err)
		fprintf(stderr, "memscope-bpf: cannot attach to the loader of pid %d: %s\n",
			(int)pid, strerror(-c.err));
	return c.err;
}

/* Whether the NUL-separated environment env (n bytes) has name=value; with token, whether
 * value is one of the spaces- or colons-separated words of name's value */
static bool env_has(const char *env, size_t n, const char *name, const char *value, bool token)
{
	size_t nlen = strlen(name), vlen = strlen(value);
	const char *e, *end = env + n;

	for (e = env; e < end; e += strlen(e) + 1) {
		const char *v = e + nlen + 1, *w;

		if (strncmp(e, name, nlen) || e[nlen] != '=')
			continue;
		if (!token)
			return !strcmp(v, value);
		for (w = v; *w; w += strcspn(w, " :")) {
			w += strspn(w, " :");
			if (!strncmp(w, value, vlen) && (w[vlen] == '\0' || strchr(" :", w[vlen])))
				return true;
		}
		return false;
	}
	return false;
}

/* The value of auxiliary vector entry type of pid (0 when it has none) */
static unsigned long auxv_of(pid_t pid, unsigned long type)
{
	unsigned long v[2 * 64];
	char path[64];
	ssize_t n;
	int fd, i;

	snprintf(path, sizeof(path), "/proc/%d/auxv", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, v, sizeof(v));
	close(fd);
	for (i = 0; i + 1 < n / (ssize_t)sizeof(v[0]); i += 2)
		if (v[i] == type)
			return v[i + 1];
	return 0;
}

/*
 * --in-process -f: why the image pid has just exec'd (held at its first instruction)
 * will not load the library and record its calls: NULL when it will (a dynamic
 * program, the loader not in secure mode, the library and the region in its
 * environment)
 */
static const char *no_preload_because(struct ms_tracer *t, pid_t pid)
{
	static char env[256 * 1024];
	char path[64], interp[PATH_MAX], lib[PATH_MAX];
	size_t n = 0;
	ssize_t got;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	if (ms_elf_interp(path, interp, sizeof(interp)))
		return "it is statically linked";
	if (auxv_of(pid, AT_SECURE))
		return "it is set-user-ID or set-group-ID (the loader ignores the preload)";
	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return "its environment cannot be read";
	while (n < sizeof(env) - 1 && (got = read(fd, env + n, sizeof(env) - 1 - n)) > 0)
		n += got;
	close(fd);
	env[n] = '\0';
	snprintf(lib, sizeof(lib), "%.*s", (int)strcspn(t->inproc_libs, " "), t->inproc_libs);
	if (!env_has(env, n, "LD_PRELOAD", lib, true) ||
	    !env_has(env, n, MS_SHM_ENV, ms_inproc_path(t->inproc), false))
		return "its environment lost LD_PRELOAD or " MS_SHM_ENV;
	return NULL;
}

/*
 * --in-process -f: pid exec'd. true when its new image records its own calls (it goes
 * on as is); false when it falls back to uprobes (attached as any held process)
 */
static bool inproc_exec(struct ms_tracer *t, pid_t pid)
{
	const char *why = no_preload_because(t, pid);
	__u8 how = why ? MS_PID_PROBED : MS_PID_INPROC;
	__u32 key = pid;
	char comm[MS_COMM_LEN + 1];

	bpf_map_update_elem(bpf_map__fd(t->skel->maps.ms_pids), &key, &how, BPF_EXIST);
	if (why && t->env->verbose) {
		read_comm(pid, comm, sizeof(comm));
		fprintf(stderr, "memscope-bpf: pid %d (%s) exec'd: %s: traced by uprobes\n",
			(int)pid, comm, why);
	}
	return !why;
}

/* Whether pid records its own calls (--in-process) */
static bool inproc_pid(struct ms_tracer *t, pid_t pid)
{
	__u32 key = pid;
	__u8 how = 0;

	return t->inproc && !bpf_map_lookup_elem(bpf_map__fd(t->skel->maps.ms_pids), &key, &how) &&
	       how == MS_PID_INPROC;
}

/*
 * A process that records its own calls, at a stop of its loader (a link-map change:
 * start-up, dlopen), at its exec, or just forked: its mappings for the names of its call
 * sites, taken while they are there (it may be gone before its first records are read);
 * a new image or a new child gets the loader probe that stops it at its link-map changes.
 * No uprobe else.
 */
static void inproc_held(struct ms_tracer *t, struct ms_maps *maps, const struct ms_held *h)
{
	if (ms_maps_read("/proc", h->pid, maps))
		return;
	if (t->syms)
		ms_symcache_snapshot(t->syms, maps);
	if (h->why != MS_EV_DLSTATE)
		attach_loader_of(t, maps, true);
}

/*
 * -f: attaches to each process the kernel stopped for the daemon and lets it go on: a
 * new child (its objects and its loader, which stops it at each change), an exec'd
 * image (the same: its libraries are mapped at the loader's stops) or a loader change
 * (what it mapped). The kernel stops it before the record is sent, so the SIGCONT
 * comes after the stop (or cancels it while it is pending, probes already there).
 */
static void serve_held(struct ms_tracer *t)
{
	struct ms_maps maps = { 0 };
	size_t i;
	int err;

	for (i = 0; i < t->nheld; i++) {
		struct ms_held *h = &t->held[i];

		if (h->why != MS_EV_DLSTATE)
			pin(t, h->pid);
		if (h->why == MS_EV_EXEC && t->inproc)
			inproc_exec(t, h->pid);
		if (inproc_pid(t, h->pid)) {
			inproc_held(t, &maps, h);
			if (!h->running)
				kill(h->pid, SIGCONT);
			continue;
		}
		err = attach_maps(t, &maps, h->pid, h->pid, false, true);
		if (h->why != MS_EV_DLSTATE && err != -ESRCH)
			attach_loader_of(t, &maps, true);
		if (err < 0 && err != -ENOENT && err != -ESRCH)
			fprintf(stderr, "memscope-bpf: cannot attach to pid %d: %s\n", (int)h->pid,
				strerror(-err));
		else if (err > 0 && t->env->verbose)
			fprintf(stderr, "memscope-bpf: attached to %d new object%s for pid %d\n",
				err, err == 1 ? "" : "s", (int)h->pid);
		kill(h->pid, SIGCONT);
	}
	ms_maps_free(&maps);
	t->nheld = 0;
}

/* Whether pid maps a C library: its start-up objects are all mapped */
static int maps_libc(const struct ms_mapping *m, void *ctx)
{
	return ms_is_libc_path(m->path);
}

/* The launched command stopped itself at a link-map change: attach, continue it */
static int serve_child(struct ms_tracer *t)
{
	struct ms_maps maps = { 0 };
	int status, err;
	bool libc;
	pid_t r;

	r = waitpid(t->launch.pid, &status, WNOHANG | WUNTRACED);
	if (r <= 0)
		return 0;
	if (WIFEXITED(status) || WIFSIGNALED(status)) {
		t->child_status = status;
		t->child_done = true;
		return 0;
	}
	if (!WIFSTOPPED(status) || WSTOPSIG(status) != SIGSTOP || t->inproc)
		return 0;
	err = attach_maps(t, &maps, t->launch.pid, t->launch.pid, false, true);
	if (err < 0 && err != -ENOENT && err != -ESRCH) {
		fprintf(stderr, "memscope-bpf: cannot attach to pid %d: %s\n", (int)t->launch.pid,
			strerror(-err));
		kill(t->launch.pid, SIGKILL);
		ms_maps_free(&maps);
		return err;
	}
	/* the start-up objects are all there once libc is: the probes' total, and the
	 * named functions found or not (at the loader's first stop nothing is mapped) */
	libc = ms_maps_each(&maps, maps_libc, NULL) == 1;
	ms_maps_free(&maps);
	if (!t->attached && libc) {
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
static void name_running(struct ms_tracer *t, pid_t pid)
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

static int attach_every(struct ms_tracer *t)
{
	struct ms_maps maps = { 0 };
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
		err = attach_maps(t, &maps, pid, -1, true, false);
		if (err >= 0) {
			n++;
			name_running(t, pid);
		} else if (err != -ENOENT && err != -ESRCH && err != -EACCES)
			fprintf(stderr, "memscope-bpf: cannot attach to pid %d: %s\n", (int)pid,
				strerror(-err));
	}
	closedir(d);
	ms_maps_free(&maps);
	return n;
}

/* -p: one process, its objects and its loader, from one reading of its mappings */
static int attach_one_pid(struct ms_tracer *t, struct ms_maps *maps, pid_t pid)
{
	int err = attach_maps(t, maps, pid, pid, false, true);

	if (err == -ENOENT) {
		fprintf(stderr,
			"memscope-bpf: pid %d maps no libc or known allocator: nothing to trace\n",
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
	/* libraries it loads later (dlopen) are found when its loader says so; with -f, its
	 * children are held at their loader's changes too */
	return attach_loader_of(t, maps, t->env->follow);
}

static int attach_pids(struct ms_tracer *t)
{
	struct ms_maps maps = { 0 };
	__u8 one = MS_PID_PROBED;
	int i, err;

	for (i = 0; i < t->env->npids; i++) {
		pid_t pid = t->env->pids[i];
		__u32 key = pid;

		t->pidfds[i] = syscall(SYS_pidfd_open, pid, 0);
		if (t->pidfds[i] < 0) {
			fprintf(stderr, "memscope-bpf: no process with pid %d\n", (int)pid);
			return -ESRCH;
		}
		bpf_map_update_elem(bpf_map__fd(t->skel->maps.ms_pids), &key, &one, BPF_ANY);
		err = attach_one_pid(t, &maps, pid);
		ms_maps_free(&maps);
		if (err)
			return err;
	}
	t->nalive = t->env->npids;
	return missing_spec(t) ? -ENOENT : 0;
}

/* -p: notices processes that ended even if their exit record was lost */
static void check_pids(struct ms_tracer *t)
{
	struct pollfd pfd[MS_ENV_MAX_PIDS];
	int i, n = 0;

	for (i = 0; i < t->env->npids; i++) {
		pfd[i].fd = t->pidfds[i];
		pfd[i].events = POLLIN;
		pfd[i].revents = 0;
	}
	if (poll(pfd, t->env->npids, 0) <= 0)
		return;
	for (i = 0; i < t->env->npids; i++) {
		if (t->pidfds[i] >= 0 && (pfd[i].revents & POLLIN)) {
			close(t->pidfds[i]);
			t->pidfds[i] = -1;
		}
		n += t->pidfds[i] >= 0;
	}
	t->nalive = n;
}

/* --in-process: the command records its own calls; no uprobe, no stop at its loader */
static int launch_in_process(struct ms_tracer *t)
{
	uint8_t nodes[MS_SHM_MAX_CPUS] = { 0 };
	__u32 key = t->launch.pid;
	__u8 how = MS_PID_INPROC;
	size_t i;
	int err;

	/* the exec, fork and exit records still come from the BPF programs */
	bpf_map_update_elem(bpf_map__fd(t->skel->maps.ms_pids), &key, &how, BPF_ANY);
	for (i = 0; i < t->numa.ncpus && i < MS_SHM_MAX_CPUS; i++)
		nodes[i] = t->numa.cpu_node[i] < 0 ? 0 : (uint8_t)t->numa.cpu_node[i];
	ms_inproc_set_nodes(t->inproc, nodes, i);
	ms_inproc_set_root(t->inproc, t->launch.pid, t->env->follow);
	ms_inproc_set_block(t->inproc, !t->env->in_process_lossy);
	/* its loader stops it at each link-map change: the mappings are read for the names
	 * of its call sites while they are there */
	err = ms_probes_attach_loader(t->probes, t->launch.interp, t->launch.pid, true);
	if (err) {
		fprintf(stderr, "memscope-bpf: cannot attach to the loader %s: %s\n",
			t->launch.interp, strerror(-err));
		return err;
	}
	t->launched = true;
	pin(t, t->launch.pid);
	if (t->numa.present == 1 && !t->numa_noted) {
		t->numa_noted = true;
		fprintf(stderr, "memscope-bpf: one NUMA node: every figure is on node 0\n");
	}
	fprintf(stderr, "memscope-bpf: attached in-process (%s preloaded) for 1 process\n",
		t->inproc_libs);
	t->attached = true;
	return ms_launch_release(&t->launch);
}

static int launch_command(struct ms_tracer *t)
{
	__u8 one = MS_PID_PROBED;
	__u32 key;
	int err;

	if (!t->launch.interp[0]) {
		fprintf(stderr, "memscope-bpf: %s is statically linked: no libc to trace\n",
			t->launch.path);
		return -ENOEXEC;
	}
	if (t->inproc)
		return launch_in_process(t);
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

void ms_targets_seen(void *ctx, const struct ms_event *e)
{
	struct ms_tracer *t = ctx;
	/* the launched command's stops are served by serve_child, but for --in-process,
	 * where they are exec's (-f) and, after a fall back to uprobes, its loader's */
	bool launched = t->launched && !t->inproc && (pid_t)e->tgid == t->launch.pid;

	if (e->type == MS_EV_FORK && t->filtering &&
	    !(e->flags & (MS_EVF_STOPPED | MS_EVF_FOLLOWED)))
		t->untraced_children++; /* no -f (or the kernel's table of them was full) */
	if (e->type == MS_EV_FORK && (e->flags & MS_EVF_FOLLOWED))
		hold(t, e->tgid, e->type, true); /* --in-process -f: it records its own calls */
	else if ((e->flags & MS_EVF_STOPPED) && !launched)
		hold(t, e->tgid, e->type, false); /* -f: a child, or what it exec'd or loaded */
	/* new objects: a process started (every-process mode) or its loader mapped more */
	else if ((t->every && e->type == MS_EV_EXEC) || (e->type == MS_EV_DLSTATE && !launched))
		queue_rescan(t, e->tgid);
}

int ms_targets_start(struct ms_tracer *t)
{
	const struct ms_env *env = t->env;
	int err, nprocs = 0;

	if (env->npids) {
		err = attach_pids(t);
		nprocs = env->npids;
	} else if (env->command) {
		err = launch_command(t);
	} else {
		nprocs = attach_every(t);
		err = nprocs < 0 ? nprocs : 0;
	}
	if (err)
		return err;
	if (!env->command)
		attached_line(t, nprocs);
	return 0;
}

void ms_targets_serve_held(struct ms_tracer *t)
{
	if (t->nheld)
		serve_held(t);
}

int ms_targets_serve(struct ms_tracer *t, bool *done)
{
	int err;

	*done = false;
	if (t->nrescan)
		do_rescans(t);
	if (t->launched) {
		err = serve_child(t);
		if (err)
			return err;
		if (t->child_done)
			*done = true;
	}
	if (t->env->npids) {
		check_pids(t);
		if (!t->nalive)
			*done = true;
	}
	return 0;
}

/* ---------------------------------------------------------------- --in-process */

#ifndef MS_LIBDIR
#define MS_LIBDIR "/usr/local/lib/memscope-bpf" /* the Makefile's $(PREFIX)/lib/memscope-bpf */
#endif

/* libmemscope-preload.so: next to the binary (a build tree), else in MS_LIBDIR */
static int preload_path(char *out, size_t len)
{
	char self[PATH_MAX], *slash;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n > 0) {
		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash && (size_t)(slash - self) + sizeof("/" MS_PRELOAD_NAME) <= len) {
			memcpy(out, self, slash - self);
			memcpy(out + (slash - self), "/" MS_PRELOAD_NAME,
			       sizeof("/" MS_PRELOAD_NAME));
			if (!access(out, R_OK))
				return 0;
		}
	}
	snprintf(out, len, "%s/" MS_PRELOAD_NAME, MS_LIBDIR);
	return access(out, R_OK) ? -errno : 0;
}

/* Whether the library at path is built for this tracer's region: one of another build (an
 * installation half upgraded) would find the region not its own and record nothing */
static bool lib_is_ours(const char *path)
{
	const char *mark = MS_SHM_MARK_NAME;
	struct ms_elf_func f;

	return ms_elf_lookup(path, &mark, 1, &f) == 1;
}

/* The allocator families with a preload library of their own; stdcxx is libstdc++'s
 * operators, found by its preset */
#define FAMILY_NAME(name) #name,
static const char *const family_name[] = { MS_SHM_FAMILIES(FAMILY_NAME) };
#define NFAMILIES (sizeof(family_name) / sizeof(family_name[0]))
#define STDCXX (NFAMILIES - 1) /* the last of MS_SHM_FAMILIES */

static const char *family_preset(size_t f)
{
	return f == STDCXX ? "libstdc++" : family_name[f];
}

/*
 * The families the command loads: for each, the first object it loads at its start (image:
 * the ELF program that runs; user_preload: the LD_PRELOAD it gets beside ours) that defines
 * the family's marker (mallocx, tc_malloc, mi_malloc, libstdc++'s: as the uprobes tell the
 * allocator), into object[f] ("" when none does), and its place in the load order into at[f]
 */
static void inproc_families(const char *image, const char *user_preload, int verbose,
			    char object[NFAMILIES][PATH_MAX], size_t at[NFAMILIES])
{
	struct ms_deps_env env = { .preload = user_preload,
				   .library_path = getenv("LD_LIBRARY_PATH") };
	struct ms_elf_query q[NFAMILIES] = { { 0 } };
	struct ms_elf_func found[NFAMILIES];
	struct ms_deps deps;
	size_t i, f;
	int err;

	for (f = 0; f < NFAMILIES; f++) {
		const struct ms_preset *ps = ms_preset_find(family_preset(f));

		object[f][0] = '\0';
		at[f] = SIZE_MAX;
		q[f].name = ps && ps->marker ? ps->marker : "";
	}
	err = ms_deps_find(image, &env, &deps);
	if (err) {
		if (verbose)
			fprintf(stderr,
				"memscope-bpf: --in-process: cannot read what %s loads (%s): no "
				"allocator's own functions are recorded\n",
				image, strerror(-err));
		return;
	}
	for (i = 0; i < deps.n; i++) {
		if (ms_elf_lookup_query(deps.path[i], q, NFAMILIES, found) <= 0)
			continue;
		for (f = 0; f < NFAMILIES; f++)
			if (found[f].found && !object[f][0]) {
				snprintf(object[f], PATH_MAX, "%s", deps.path[i]);
				at[f] = i;
			}
	}
	ms_deps_free(&deps);
}

/*
 * With --stacks the probes trace libstdc++'s operator new and delete (the site is their
 * caller): the stdcxx library records them when no allocator the command loads defines
 * them itself (its family does). Without --stacks, or with such an allocator, it is not
 * preloaded. Whether the run can do without the uprobes: not when libstdc++ comes before
 * that allocator (its operators are the ones the program's calls reach, which the
 * allocator's library would pass on), said in *why
 */
static bool inproc_stdcxx(const struct ms_env *env, char object[NFAMILIES][PATH_MAX],
			  const size_t at[NFAMILIES], const char **why)
{
	static char why_cxx[4400];
	size_t f;

	if (!env->stacks)
		object[STDCXX][0] = '\0';
	for (f = 0; f < STDCXX && object[STDCXX][0]; f++) {
		if (!object[f][0])
			continue;
		if (at[STDCXX] < at[f]) {
			snprintf(
				why_cxx, sizeof(why_cxx),
				"--stacks: the command loads libstdc++ (%.2000s) before %s (%.2000s): the "
				"operators it calls are libstdc++'s, which the probes trace for their "
				"callers' stacks",
				object[STDCXX], family_name[f], object[f]);
			*why = why_cxx;
			return false;
		}
		object[STDCXX][0] = '\0';
	}
	return true;
}

/* t->inproc_libs: libmemscope-preload.so, then the library of each family the command loads
 * (found beside it); -EAGAIN (why in *why) when the run needs the uprobes */
static int inproc_libs(struct ms_tracer *t, const char *user_preload, const char **why)
{
	static char why_lib[160];
	char object[NFAMILIES][PATH_MAX], lib[PATH_MAX], *slash;
	const char *bad;
	size_t f, n, at[NFAMILIES];
	int err;

	err = preload_path(t->inproc_libs, sizeof(t->inproc_libs));
	if (!err && !lib_is_ours(t->inproc_libs))
		err = -ENOEXEC;
	if (err) {
		char what[sizeof(t->inproc_libs) + 160];

		if (err == -ENOEXEC)
			snprintf(
				what, sizeof(what),
				"%s is not this memscope-bpf's (it does not define " MS_SHM_MARK_NAME
				": another version's)",
				t->inproc_libs);
		else
			snprintf(what, sizeof(what),
				 "cannot find " MS_PRELOAD_NAME " beside the binary or at %s (%s)",
				 t->inproc_libs, strerror(-err));
		if (t->env->in_process_named) {
			fprintf(stderr, "memscope-bpf: --in-process: %s\n", what);
			return err;
		}
		/* the default way: the uprobes still trace the command, said always (an
		 * installation without the library costs the command a trap a call) */
		fprintf(stderr,
			"memscope-bpf: %s: the command is traced by uprobes (make install puts it "
			"there)\n",
			what);
		*why = err == -ENOEXEC ? MS_PRELOAD_NAME " is another version's" :
					 MS_PRELOAD_NAME " is missing";
		return -EAGAIN;
	}
	inproc_families(t->launch.image, user_preload, t->env->verbose, object, at);
	if (!inproc_stdcxx(t->env, object, at, why))
		return -EAGAIN;
	for (f = 0, n = 0; f < STDCXX; f++)
		n += !!object[f][0];
	if (!n && t->env->verbose)
		fprintf(stderr,
			"memscope-bpf: --in-process: %s loads no jemalloc, tcmalloc or mimalloc: the "
			"C library's functions only\n",
			t->launch.image);
	for (f = 0; f < NFAMILIES; f++) {
		const char *what = f == STDCXX ? "libstdc++" : family_name[f];

		if (!object[f][0])
			continue;
		slash = strrchr(t->inproc_libs, '/');
		snprintf(lib, sizeof(lib), "%.*s/" MS_PRELOAD_FAMILY "%s.so",
			 (int)(slash - t->inproc_libs), t->inproc_libs, family_name[f]);
		n = strlen(t->inproc_libs);
		bad = access(lib, R_OK)				    ? "missing" :
		      !lib_is_ours(lib)				    ? "another version's" :
		      n + 1 + strlen(lib) >= sizeof(t->inproc_libs) ? "past the list's length" :
								      NULL;
		if (bad) {
			if (f == STDCXX) {
				snprintf(
					why_lib, sizeof(why_lib),
					"--stacks: the command loads libstdc++, whose operators the "
					"probes trace, and the library that records them is %s",
					bad);
				*why = why_lib;
				return -EAGAIN;
			}
			fprintf(stderr,
				"memscope-bpf: --in-process: %s loads %s (%s), but %s is %s: %s's "
				"own functions are not recorded\n",
				t->launch.image, what, object[f], lib, bad, what);
			continue;
		}
		snprintf(t->inproc_libs + n, sizeof(t->inproc_libs) - n, " %s", lib);
		if (t->env->verbose)
			fprintf(stderr,
				"memscope-bpf: --in-process: %s loads %s (%s): its own functions "
				"through %s\n",
				t->launch.image, what, object[f], lib);
	}
	return 0;
}

/* Why --in-process cannot record this run's calls, whatever the command (NULL: it can) */
static const char *inproc_not_for_run(const struct ms_env *env)
{
	if (env->stacks && env->unwind == MS_UNWIND_FP)
		return "--stack-unwind fp: frame-pointer stacks are walked by the BPF programs "
		       "(the library walks from call frame information)";
	if (env->nspecs)
		return "--alloc, --free and --realloc name functions the probes find, called "
		       "through the loader or not";
	if (env->npresets)
		return "--preset's functions are called inside their own objects, where only "
		       "probes see them";
	return NULL;
}

/*
 * --in-process: the region, and the command prepared with the libraries preloaded. -EAGAIN
 * (why in *why) when the loader would not preload them (a set-user-ID, set-group-ID or
 * statically linked program): nothing is prepared then
 */
static int inproc_prepare(struct ms_tracer *t, char *const *command, const char **why)
{
	const char *old = getenv("LD_PRELOAD");
	char *saved = old ? strdup(old) : NULL, *val = NULL;
	struct stat st;
	int err;

	err = ms_launch_find(&t->launch, command);
	if (err) {
		fprintf(stderr, "memscope-bpf: cannot run %s: %s\n", command[0], strerror(-err));
		free(saved);
		return err;
	}
	if (!t->launch.interp[0] ||
	    (!stat(t->launch.path, &st) && (((st.st_mode & S_ISUID) && st.st_uid != geteuid()) ||
					    ((st.st_mode & S_ISGID) && st.st_gid != getegid())))) {
		/* no loader, or one that ignores a preload of its caller's choice */
		*why = !t->launch.interp[0] ? "the command is statically linked" :
					      "the command is set-user-ID or set-group-ID: the "
					      "loader would not preload the library";
		free(saved);
		return -EAGAIN;
	}
	err = inproc_libs(t, saved, why);
	if (err) {
		free(saved);
		return err;
	}
	t->inproc = ms_inproc_new("/dev/shm");
	if (!t->inproc) {
		err = -errno;
		fprintf(stderr,
			"memscope-bpf: --in-process: cannot create its shared memory in "
			"/dev/shm: %s\n",
			strerror(errno));
		free(saved);
		return err;
	}
	/* first: its malloc is the one the program's calls reach, and the next one is the
	 * allocator the program preloads or links (jemalloc, tcmalloc, mimalloc); then the
	 * families' libraries, whose next definitions are that allocator's own functions */
	if (asprintf(&val, "%s%s%s", t->inproc_libs, saved ? " " : "", saved ? saved : "") < 0) {
		free(saved);
		return -ENOMEM;
	}
	if (t->env->stacks) {
		err = ms_inproc_set_stacks(t->inproc, t->env->stack_entries, t->env->stack_depth,
					   t->env->sample_bytes);
		if (err) {
			fprintf(stderr,
				"memscope-bpf: --in-process: cannot make its stack table (%u stacks "
				"of %u frames) in /dev/shm: %s; consider a smaller --stack-map-size\n",
				t->env->stack_entries, t->env->stack_depth, strerror(-err));
			free(val);
			free(saved);
			return err;
		}
	}
	setenv("LD_PRELOAD", val, 1);
	setenv(MS_SHM_ENV, ms_inproc_path(t->inproc), 1);
	err = ms_launch_start(&t->launch, command);
	if (err)
		fprintf(stderr, "memscope-bpf: cannot run %s: %s\n", command[0], strerror(-err));
	/* the command has them; the tracer does not keep them */
	if (saved)
		setenv("LD_PRELOAD", saved, 1);
	else
		unsetenv("LD_PRELOAD");
	unsetenv(MS_SHM_ENV);
	free(val);
	free(saved);
	return err;
}

int ms_targets_prepare_command(struct ms_tracer *t, char *const *command)
{
	const char *why = NULL;
	int err;

	if (t->env->in_process) {
		why = inproc_not_for_run(t->env);
		if (!why) {
			err = inproc_prepare(t, command, &why);
			if (err != -EAGAIN)
				return err;
		}
		if (t->env->verbose)
			fprintf(stderr, "memscope-bpf: --in-process: %s: traced by uprobes\n", why);
	}
	err = ms_launch_prepare(&t->launch, command);
	if (err)
		fprintf(stderr, "memscope-bpf: cannot run %s: %s\n", command[0], strerror(-err));
	return err;
}

static unsigned inproc_resolve(void *ctx, const char *path, uint64_t file_off)
{
	struct ms_tracer *t = ctx;
	int id = ms_probes_func_at(t->probes, path, file_off);

	return id > 0 ? (unsigned)id : 0;
}

static void inproc_push(void *ctx, int q, const struct ms_event *v, size_t n)
{
	struct ms_tracer *t = ctx;

	ms_rings_push_run(&t->rings, q, v, n);
}

static void inproc_quiet(void *ctx, int q, uint64_t ts)
{
	struct ms_tracer *t = ctx;

	ms_rings_quiet(&t->rings, q, ts);
}

size_t ms_targets_inproc_read(struct ms_tracer *t)
{
	const struct ms_inproc_fns fns = {
		.resolve = inproc_resolve,
		.push = inproc_push,
		.quiet = inproc_quiet,
		.ctx = t,
	};

	return t->inproc ? ms_inproc_read(t->inproc, &fns) : 0;
}

void ms_targets_init(struct ms_tracer *t)
{
	int i;

	for (i = 0; i < MS_ENV_MAX_PIDS; i++)
		t->pidfds[i] = -1;
	t->launch.gate = -1;
}

void ms_targets_free(struct ms_tracer *t)
{
	ms_inproc_free(t->inproc);
	t->inproc = NULL;
	int i;

	free(t->held);
	free(t->rescan);
	for (i = 0; i < t->env->npids; i++)
		if (t->pidfds[i] >= 0)
			close(t->pidfds[i]);
}
