/* probes.c: allocator functions found in mapped objects, attached as uprobes */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "elfsym.h"
#include "placement.h"
#include "probes.h"
#include "procmaps.h"
#include "symbolizer.h"
#include "ulink.h"
#include "vec.h"

#define MAX_POINTS 128 /* probes in one object */
#define MAX_CODE 65536 /* bytes of a function decoded for placement */

/* A function to look for in every object (of its group) */
struct target {
	char symbol[256];
	unsigned qflags; /* MS_ELFQ_* */
	char display[64];
	struct ms_fn_spec fn;
	uint16_t allocator;
	uint64_t fixed_size;
	int group;
	int spec; /* user spec index, or -1 */
};

/* Functions that come together: one preset under one prefix, or one user spec */
struct group {
	const struct ms_preset *preset; /* NULL: a user spec */
	char marker[64];		/* the function whose presence selects the group */
	bool libc;			/* selected by the object being a libc instead */
	char object[PATH_MAX];		/* a user spec's object (resolved), "" for any */
};

/* An object's plan, computed once per file */
struct plan {
	dev_t dev;
	ino_t ino;
	struct ms_probe_point *pts;
	int n; /* -errno when the file could not be read */
};

struct object {
	dev_t dev;
	ino_t ino;
	char path[PATH_MAX]; /* how the tracer opened it */
};

struct scope {
	size_t obj;  /* index into objects */
	pid_t pid;   /* -1: every process */
	bool loader; /* the loader probe, not the allocator functions */
};

/* A perf-event uprobe of libbpf's, or the fd of a uprobe_multi link */
struct ms_link {
	struct bpf_link *l;
	int fd;
};

struct ms_probes {
	struct ms_catalog *cat; /* the allocators and functions probed are added to it */
	struct bpf_program *entry, *ret;
	struct ms_probe_config cfg;
	struct target *targets;
	size_t ntargets, cap_targets;
	struct group *groups;
	size_t ngroups, cap_groups;
	bool *spec_found;
	bool *spec_object_seen; /* a spec's object is mapped by a process scanned */
	struct plan *plans;
	size_t nplans, cap_plans;
	struct object *objs;
	size_t nobjs, cap_objs;
	struct scope *scopes;
	size_t nscopes, cap_scopes;
	struct ms_link *links;
	size_t nlinks, cap_links;
	size_t nprobes; /* entry and return probes attached */
};

bool ms_is_libc_path(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	return !strncmp(base, "libc.so", 7) || !strncmp(base, "libc-", 5) ||
	       !strncmp(base, "ld-musl-", 8);
}

bool ms_is_loader_path(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	return !strncmp(base, "ld-", 3) && strstr(base, ".so") && strncmp(base, "ld-musl-", 8);
}

static int add_group(struct ms_probes *p, const struct group *g)
{
	return MS_VEC_PUSH(p->groups, p->ngroups, p->cap_groups, *g);
}

static int add_preset(struct ms_probes *p, const struct ms_preset *ps)
{
	const char *const *pre;
	size_t i;
	int id, err;

	/* the allocator of the preset's kind: libc's own (libc, libstdc++'s operators) is 1 */
	id = ms_catalog_allocator_id(p->cat, ms_alloc_kind_name(ps->kind), ps->kind);
	if (id < 0)
		return id;
	for (pre = ps->prefixes; *pre; pre++) {
		struct group g = { .preset = ps, .libc = !ps->marker };

		if (ps->marker)
			snprintf(g.marker, sizeof(g.marker), "%s%s", *pre, ps->marker);
		err = add_group(p, &g);
		for (i = 0; i < ps->nfns && !err; i++) {
			struct target t = { .fn = ps->fns[i], .allocator = id, .spec = -1 };

			t.group = p->ngroups - 1;
			t.qflags = ps->rust_names ? MS_ELFQ_RUST : 0;
			snprintf(t.symbol, sizeof(t.symbol), "%s%s", *pre, ps->fns[i].name);
			/* C++ operators by their source names: operator new(unsigned long) */
			if (!strncmp(t.symbol, "_Z", 2))
				ms_demangle(t.symbol, t.display, sizeof(t.display));
			else
				snprintf(t.display, sizeof(t.display), "%.63s", t.symbol);
			err = MS_VEC_PUSH(p->targets, p->ntargets, p->cap_targets, t);
		}
		if (err)
			return err;
	}
	return 0;
}

static int add_spec(struct ms_probes *p, const struct ms_allocspec *s, int index)
{
	struct target t = { .allocator = 0, .spec = index, .fixed_size = s->fixed_size };
	struct group g = { .preset = NULL };
	int id, err;

	if (s->object[0] && !realpath(s->object, g.object))
		snprintf(g.object, sizeof(g.object), "%s", s->object);
	err = add_group(p, &g);
	if (err)
		return err;
	id = ms_catalog_allocator_id(p->cat, s->allocator, MS_AK_CUSTOM);
	if (id < 0)
		return id;
	t.allocator = id;
	t.group = p->ngroups - 1;
	t.qflags = ms_allocspec_demangled(s) ? MS_ELFQ_DEMANGLED : 0;
	snprintf(t.symbol, sizeof(t.symbol), "%s", s->function);
	snprintf(t.display, sizeof(t.display), "%.63s", s->function);
	t.fn.kind = s->kind;
	t.fn.size_arg = s->size_arg;
	t.fn.nmemb_arg = s->nmemb_arg;
	t.fn.ptr_arg = s->ptr_arg;
	t.fn.out_arg = s->out_arg;
	/* a custom free may release its chunks with free: that is its backing */
	t.fn.flags = s->kind == MS_FN_FREE ? MS_FNF_FRAME : 0;
	return MS_VEC_PUSH(p->targets, p->ntargets, p->cap_targets, t);
}

struct ms_probes *ms_probes_new(struct ms_catalog *cat, struct bpf_program *entry,
				struct bpf_program *ret, const struct ms_probe_config *cfg)
{
	struct ms_probes *p = calloc(1, sizeof(*p));
	size_t i, k;
	int err = 0;

	if (!p)
		return NULL;
	p->cat = cat;
	p->entry = entry;
	p->ret = ret;
	p->cfg = *cfg;
	p->spec_found = calloc(cfg->nspecs + 1, sizeof(bool));
	p->spec_object_seen = calloc(cfg->nspecs + 1, sizeof(bool));
	if (!p->spec_found || !p->spec_object_seen)
		err = -ENOMEM;
	/* the order is the priority when two functions share an address */
	for (i = 0; i < cfg->nspecs && !err; i++)
		err = add_spec(p, &cfg->specs[i], i);
	for (i = 1; i < ms_npresets && !err; i++) {
		bool asked = ms_presets[i].automatic;

		for (k = 0; k < cfg->npresets; k++)
			asked |= cfg->presets[k] == &ms_presets[i];
		asked |= cfg->cxx && !strcmp(ms_presets[i].name, "libstdc++");
		if (asked)
			err = add_preset(p, &ms_presets[i]);
	}
	if (!err)
		err = add_preset(p, MS_PRESET_LIBC);
	if (err) {
		ms_probes_free(p);
		errno = -err;
		return NULL;
	}
	return p;
}

#define DETACH_THREADS 32

struct detach_job {
	struct ms_link *links;
	size_t n, first, step;
};

static void *detach_some(void *arg)
{
	struct detach_job *j = arg;
	size_t i;

	for (i = j->first; i < j->n; i += j->step) {
		if (j->links[i].l)
			bpf_link__destroy(j->links[i].l);
		else
			close(j->links[i].fd);
	}
	return NULL;
}

/*
 * Destroys every link. Each uprobe waits for a grace period as it goes away (and a
 * system-wide one rewrites every process mapping its file), so links go in parallel:
 * the waits overlap instead of adding up.
 */
static void detach_all(struct ms_probes *p)
{
	struct detach_job jobs[DETACH_THREADS];
	pthread_t th[DETACH_THREADS];
	bool started[DETACH_THREADS] = { 0 };
	size_t n = p->nlinks < DETACH_THREADS ? p->nlinks : DETACH_THREADS, k;

	for (k = 0; k < n; k++) {
		jobs[k] = (struct detach_job){ p->links, p->nlinks, k, n };
		started[k] = !pthread_create(&th[k], NULL, detach_some, &jobs[k]);
		if (!started[k])
			detach_some(&jobs[k]);
	}
	for (k = 0; k < n; k++)
		if (started[k])
			pthread_join(th[k], NULL);
	p->nlinks = 0;
}

void ms_probes_free(struct ms_probes *p)
{
	size_t i;

	if (!p)
		return;
	detach_all(p);
	for (i = 0; i < p->nplans; i++)
		free(p->plans[i].pts);
	free(p->links);
	free(p->plans);
	free(p->objs);
	free(p->scopes);
	free(p->targets);
	free(p->groups);
	free(p->spec_found);
	free(p->spec_object_seen);
	free(p);
}

size_t ms_probes_count(const struct ms_probes *p)
{
	return p->nprobes;
}

size_t ms_probes_objects(const struct ms_probes *p)
{
	return p->nobjs;
}

int ms_probes_missing_spec_after(const struct ms_probes *p, int after)
{
	size_t i;

	for (i = after + 1; i < p->cfg.nspecs; i++)
		if (!p->spec_found[i])
			return i;
	return -1;
}

bool ms_probes_spec_object_seen(const struct ms_probes *p, int i)
{
	return i >= 0 && (size_t)i < p->cfg.nspecs && p->spec_object_seen[i];
}

int ms_probes_missing_spec(const struct ms_probes *p)
{
	return ms_probes_missing_spec_after(p, -1);
}

static unsigned protected_args(const struct ms_fn_spec *s)
{
	unsigned mask = 0;

	if (s->size_arg != MS_ARG_NONE)
		mask |= MS_PROTECT_ARG(s->size_arg);
	if (s->nmemb_arg != MS_ARG_NONE)
		mask |= MS_PROTECT_ARG(s->nmemb_arg);
	if (s->ptr_arg != MS_ARG_NONE)
		mask |= MS_PROTECT_ARG(s->ptr_arg);
	if (s->out_arg != MS_ARG_NONE)
		mask |= MS_PROTECT_ARG(s->out_arg);
	return mask;
}

/* Moves pt's probe along its function's entry path when that is proven safe */
static void place(int fd, const struct ms_elf_func *f, struct ms_probe_point *pt)
{
	static uint8_t code[MAX_CODE];
	struct ms_placement pl;
	ssize_t n;

	if (!f->size) {
		pt->why = "the function's size is unknown";
		return;
	}
	n = pread(fd, code, f->size < MAX_CODE ? f->size : MAX_CODE, f->file_off);
	if (n <= 0) {
		pt->why = "the function's code cannot be read";
		return;
	}
	ms_place_probe(code, n, protected_args(&pt->fn), &pl);
	pt->file_off = f->file_off + pl.off;
	pt->why = pl.why;
	snprintf(pt->insn, sizeof(pt->insn), "%s", pl.insn);
}

/* Whether group g applies to the object mapped as mapped_path, given what was found */
static bool group_selected(const struct ms_probes *p, size_t g, const char *mapped_path,
			   const struct ms_elf_func *markers)
{
	const struct group *gr = &p->groups[g];

	if (gr->libc)
		return ms_is_libc_path(mapped_path);
	if (gr->preset)
		return markers[g].found;
	return !gr->object[0] || !strcmp(gr->object, mapped_path);
}

int ms_probes_plan(struct ms_probes *p, const char *path, const char *mapped_path,
		   struct ms_probe_point *pts, size_t max)
{
	size_t nq = p->ntargets + p->ngroups, i, k, n = 0;
	struct ms_elf_query *q = calloc(nq, sizeof(*q));
	struct ms_elf_func *found = calloc(nq, sizeof(*found));
	int err, fd = -1;

	if (!q || !found) {
		err = -ENOMEM;
		goto out;
	}
	/* the targets, then each group's marker */
	for (i = 0; i < p->ntargets; i++) {
		q[i].name = p->targets[i].symbol;
		q[i].flags = p->targets[i].qflags;
	}
	for (i = 0; i < p->ngroups; i++) {
		const struct ms_preset *ps = p->groups[i].preset;

		q[p->ntargets + i].name = p->groups[i].marker[0] ? p->groups[i].marker : "";
		/* Rust's markers are mangled like its functions */
		q[p->ntargets + i].flags = ps && ps->rust_names ? MS_ELFQ_RUST : 0;
	}
	err = ms_elf_lookup_query(path, q, nq, found);
	if (err < 0)
		goto out;
	if (p->cfg.place)
		fd = ms_elf_open_file(path, NULL);
	for (i = 0; i < p->ntargets; i++) {
		const struct target *t = &p->targets[i];

		if (!found[i].found ||
		    !group_selected(p, t->group, mapped_path, found + p->ntargets))
			continue;
		/* an alias of an earlier function shares its probe and its name */
		for (k = 0; k < n; k++)
			if (pts[k].entry_off == found[i].file_off)
				break;
		if (k < n) {
			size_t len = strlen(pts[k].name);

			/* a function the user named takes it over from a preset's */
			if (t->spec >= 0 && pts[k].spec < 0) {
				snprintf(pts[k].name, sizeof(pts[k].name), "%s", t->display);
				pts[k].fn = t->fn;
				pts[k].allocator = t->allocator;
				pts[k].fixed_size = t->fixed_size;
				pts[k].spec = t->spec;
				continue;
			}
			if (pts[k].allocator == t->allocator && !strstr(pts[k].name, t->display))
				snprintf(pts[k].name + len, sizeof(pts[k].name) - len, "/%s",
					 t->display);
			/* named twice, or by two aliases: found, with one probe */
			if (t->spec >= 0 && pts[k].allocator == t->allocator)
				p->spec_found[t->spec] = true;
			continue;
		}
		if (n == max)
			break;
		memset(&pts[n], 0, sizeof(pts[n]));
		snprintf(pts[n].name, sizeof(pts[n].name), "%s", t->display);
		pts[n].fn = t->fn;
		pts[n].allocator = t->allocator;
		pts[n].fixed_size = t->fixed_size;
		pts[n].spec = t->spec;
		pts[n].entry_off = pts[n].file_off = found[i].file_off;
		if (fd >= 0)
			place(fd, &found[i], &pts[n]);
		else
			pts[n].why = p->cfg.place ? "the file cannot be read" : "placement is off";
		n++;
	}
	err = n;
out:
	if (fd >= 0)
		close(fd);
	free(q);
	free(found);
	return err;
}

static int add_link(struct ms_probes *p, struct ms_link l)
{
	return MS_VEC_PUSH(p->links, p->nlinks, p->cap_links, l);
}

/*
 * Attaches prog at n offsets of path, with their cookies, as return probes when ret,
 * in process pid (every process when -1): one uprobe_multi link with cfg.multi, else a
 * perf-event uprobe per offset.
 */
static int attach(struct ms_probes *p, struct bpf_program *prog, bool ret, const char *path,
		  const uint64_t *offs, const uint64_t *cookies, size_t n, pid_t pid)
{
	struct ms_link l = { .fd = -1 };
	size_t i;
	int err;

	if (!n)
		return 0;
	if (p->cfg.multi) {
		l.fd = ms_ulink_create(bpf_program__fd(prog), path, offs, cookies, n, ret,
				       pid == -1 ? 0 : pid);
		if (l.fd < 0)
			return l.fd;
		err = add_link(p, l);
		if (err) {
			close(l.fd);
			return err;
		}
		p->nprobes += n;
		return 0;
	}
	for (i = 0; i < n; i++) {
		LIBBPF_OPTS(bpf_uprobe_opts, opts, .retprobe = ret, .bpf_cookie = cookies[i]);

		l.l = bpf_program__attach_uprobe_opts(prog, pid, path, offs[i], &opts);
		if (!l.l)
			return -errno;
		err = add_link(p, l);
		if (err) {
			bpf_link__destroy(l.l);
			return err;
		}
		p->nprobes++;
	}
	return 0;
}

/* The index of the object with dev/ino, added with path when new */
static long object_index(struct ms_probes *p, dev_t dev, ino_t ino, const char *path)
{
	struct object o = { .dev = dev, .ino = ino };
	size_t i;
	int err;

	for (i = 0; i < p->nobjs; i++)
		if (p->objs[i].dev == dev && p->objs[i].ino == ino)
			return i;
	snprintf(o.path, sizeof(o.path), "%s", path);
	err = MS_VEC_PUSH(p->objs, p->nobjs, p->cap_objs, o);
	return err ? err : (long)p->nobjs - 1;
}

/* Whether obj is already attached for pid (or for every process) */
static bool attached(struct ms_probes *p, size_t obj, pid_t pid, bool loader)
{
	size_t i;

	for (i = 0; i < p->nscopes; i++)
		if (p->scopes[i].obj == obj && p->scopes[i].loader == loader &&
		    (p->scopes[i].pid == pid || p->scopes[i].pid == -1))
			return true;
	return false;
}

static int add_scope(struct ms_probes *p, size_t obj, pid_t pid, bool loader)
{
	struct scope s = { .obj = obj, .pid = pid, .loader = loader };

	return MS_VEC_PUSH(p->scopes, p->nscopes, p->cap_scopes, s);
}

static int func_id(struct ms_catalog *cat, const struct ms_probe_point *pt)
{
	struct ms_func f = {
		.allocator = pt->allocator,
		.kind = pt->fn.kind,
		.fixed_size = pt->fixed_size,
		.backing_only = !!(pt->fn.flags & MS_FNF_BACKING_ONLY),
	};
	unsigned id = ms_catalog_find_func(cat, pt->name, pt->allocator, pt->fn.kind);

	if (id)
		return id;
	memcpy(f.name, pt->name, strnlen(pt->name, sizeof(f.name) - 1));
	return ms_catalog_add_func(cat, &f);
}

/* The plan of the object at path (dev/ino), computed on first use */
static const struct plan *plan_of(struct ms_probes *p, dev_t dev, ino_t ino, const char *path,
				  const char *mapped_path)
{
	struct plan pl = { .dev = dev, .ino = ino };
	size_t i;

	for (i = 0; i < p->nplans; i++)
		if (p->plans[i].dev == dev && p->plans[i].ino == ino)
			return &p->plans[i];
	pl.pts = calloc(MAX_POINTS, sizeof(*pl.pts));
	if (!pl.pts)
		return NULL;
	pl.n = ms_probes_plan(p, path, mapped_path, pl.pts, MAX_POINTS);
	if (pl.n == -EFBIG)
		fprintf(stderr,
			"memscope-bpf: skipping %s: reading its symbols is past the bound of one "
			"object (%u MiB of symbol tables, %u symbols, %u headers)\n",
			mapped_path, MS_ELF_TABLE_BYTES_MAX >> 20, MS_ELF_SYMS_MAX,
			MS_ELF_HEADERS_MAX);
	if (MS_VEC_PUSH(p->plans, p->nplans, p->cap_plans, pl)) {
		free(pl.pts);
		return NULL;
	}
	return &p->plans[p->nplans - 1];
}

int ms_probes_func_at(struct ms_probes *p, const char *path, uint64_t entry_off)
{
	const struct plan *pl;
	struct stat st;
	int i;

	if (stat(path, &st))
		return -errno;
	pl = plan_of(p, st.st_dev, st.st_ino, path, path);
	if (!pl)
		return -ENOMEM;
	for (i = 0; i < pl->n; i++)
		if (pl->pts[i].entry_off == entry_off)
			return func_id(p->cat, &pl->pts[i]);
	return 0;
}

/* Whether calls of the function keep a frame in BPF, and so have a return probe */
static bool has_frame(const struct ms_fn_spec *s)
{
	return s->kind != MS_FN_FREE || (s->flags & MS_FNF_FRAME);
}

/* Attaches the plan's probes to the file at path (shown as display) */
static int attach_plan(struct ms_probes *p, const struct plan *pl, const char *path,
		       const char *display, pid_t scope)
{
	uint64_t ent_off[MAX_POINTS], ent_ck[MAX_POINTS], ret_off[MAX_POINTS], ret_ck[MAX_POINTS];
	size_t nent = 0, nret = 0;
	int i, id, err;

	for (i = 0; i < pl->n; i++) {
		const struct ms_probe_point *pt = &pl->pts[i];
		const struct ms_fn_spec *s = &pt->fn;
		bool frame = has_frame(s);
		uint64_t cookie;

		id = func_id(p->cat, pt);
		if (id < 0)
			return id;
		cookie = MS_CK_MAKE(id, pt->allocator, s->kind, s->size_arg, s->nmemb_arg,
				    s->ptr_arg, s->out_arg);
		if (s->kind == MS_FN_FREE && frame)
			cookie |= MS_CK_FRAME;
		if (s->flags & MS_FNF_BACKING_ONLY)
			cookie |= MS_CK_BACKING_ONLY;
		if (s->flags & MS_FNF_FAIL_M1)
			cookie |= MS_CK_FAIL_M1;
		if (frame) {
			ret_off[nret] = pt->file_off;
			ret_ck[nret++] = cookie;
		}
		ent_off[nent] = pt->file_off;
		ent_ck[nent++] = cookie;
	}
	/* the return probes first: an entry without a return would stay pending */
	err = attach(p, p->ret, true, path, ret_off, ret_ck, nret, scope);
	if (!err)
		err = attach(p, p->entry, false, path, ent_off, ent_ck, nent, scope);
	if (err)
		return err;
	for (i = 0; i < pl->n; i++) {
		const struct ms_probe_point *pt = &pl->pts[i];
		bool frame = has_frame(&pt->fn);

		if (pt->spec >= 0)
			p->spec_found[pt->spec] = true;
		if (p->cfg.verbose)
			fprintf(stderr,
				"memscope-bpf: probe %s (%s) at %s+0x%llx (entry+0x%llx%s%s%s%s)%s%s\n",
				pt->name, ms_catalog_allocator(p->cat, pt->allocator)->name,
				display, (unsigned long long)pt->file_off,
				(unsigned long long)(pt->file_off - pt->entry_off),
				pt->insn[0] ? ": " : "", pt->insn,
				pt->why ? "; stays at the entry: " : "", pt->why ? pt->why : "",
				frame ? " with a return probe" : "",
				scope == -1 ? "" : " for one process");
	}
	if (p->cfg.verbose && p->cfg.multi)
		fprintf(stderr,
			"memscope-bpf: %zu entry and %zu return probes of %s in %d uprobe_multi link%s\n",
			nent, nret, display, nret ? 2 : 1, nret ? "s" : "");
	return 0;
}

struct scan_ctx {
	struct ms_probes *p;
	pid_t pid, scope;
	bool loaders; /* also attach the loader probe to dynamic loaders */
	int objects, added, err;
};

static int attach_loader_at(struct ms_probes *p, const char *path, const char *display,
			    const struct stat *st, pid_t pid, bool stop);

/* "/proc/self/fd/N": the file pinned at fd, reached without resolving its path again */
static void fd_path(char *buf, size_t len, int fd)
{
	snprintf(buf, len, "/proc/self/fd/%d", fd);
}

/* How a mapped object is shown: as the process sees it, or the mapping when deleted */
static void display_path(char *buf, size_t len, pid_t pid, const struct ms_mapping *m)
{
	if (m->deleted)
		snprintf(buf, len, "/proc/%d/map_files/%llx-%llx", (int)pid,
			 (unsigned long long)m->start, (unsigned long long)m->end);
	else
		snprintf(buf, len, "/proc/%d/root%s", (int)pid, m->path);
}

static int scan_pinned(struct scan_ctx *c, const struct ms_mapping *m, const char *path,
		       const char *display, const struct stat *st)
{
	const struct plan *pl;
	size_t i;
	long obj;
	int err;

	if (c->loaders && ms_is_loader_path(m->path)) {
		err = attach_loader_at(c->p, path, display, st, c->scope, false);
		if (err && err != -ENOENT && err != -ENOEXEC && err != -EFBIG)
			return c->err = err;
	}
	for (i = 0; i < c->p->ntargets; i++) {
		const struct target *t = &c->p->targets[i];

		if (t->spec >= 0 && c->p->groups[t->group].object[0] &&
		    !strcmp(c->p->groups[t->group].object, m->path))
			c->p->spec_object_seen[t->spec] = true;
	}
	pl = plan_of(c->p, st->st_dev, st->st_ino, path, m->path);
	if (!pl)
		return c->err = -ENOMEM;
	if (pl->n <= 0)
		return 0;
	c->objects++;
	obj = object_index(c->p, st->st_dev, st->st_ino, display);
	if (obj < 0)
		return c->err = obj;
	if (attached(c->p, obj, c->scope, false))
		return 0;
	err = attach_plan(c->p, pl, path, display, c->scope);
	if (!err)
		err = add_scope(c->p, obj, c->scope, false);
	if (err)
		return c->err = err;
	c->added++;
	return 0;
}

static int scan_one(const struct ms_mapping *m, void *arg)
{
	struct scan_ctx *c = arg;
	char path[64], display[PATH_MAX];
	struct stat st;
	int fd, err;

	/* the mapped file itself, never what its path names now (a FIFO would block) */
	fd = ms_maps_pin("/proc", c->pid, m, &st);
	if (fd < 0)
		return 0; /* gone, or replaced since it was mapped */
	fd_path(path, sizeof(path), fd);
	display_path(display, sizeof(display), c->pid, m);
	err = scan_pinned(c, m, path, display, &st);
	close(fd);
	return err;
}

int ms_probes_attach_pid(struct ms_probes *p, const struct ms_maps *maps, pid_t scope, bool loaders)
{
	struct scan_ctx c = { .p = p, .pid = maps->pid, .scope = scope, .loaders = loaders };
	int err;

	err = ms_maps_each(maps, scan_one, &c);
	if (c.err)
		return c.err;
	if (err)
		return err;
	if (!c.objects)
		return -ENOENT;
	return c.added;
}

/* Attaches the loader probe to the loader at path (pinned, with identity st) */
static int attach_loader_at(struct ms_probes *p, const char *path, const char *display,
			    const struct stat *st, pid_t pid, bool stop)
{
	static const char *const names[] = { "_dl_debug_state" };
	struct ms_elf_func f;
	uint64_t cookie;
	long obj;
	int err;

	obj = object_index(p, st->st_dev, st->st_ino, display);
	if (obj < 0)
		return obj;
	if (attached(p, obj, pid, true))
		return 0;
	err = ms_elf_lookup(path, names, 1, &f);
	if (err < 0)
		return err;
	if (!f.found)
		return -ENOENT;
	cookie = MS_CK_MAKE(0, 0, MS_FN_DLSTATE, MS_ARG_NONE, MS_ARG_NONE, MS_ARG_NONE,
			    MS_ARG_NONE) |
		 (stop ? MS_CK_STOP : 0);
	err = attach(p, p->entry, false, path, &f.file_off, &cookie, 1, pid);
	if (err)
		return err;
	if (p->cfg.verbose)
		fprintf(stderr, "memscope-bpf: loader probe at %s+0x%llx%s\n", display,
			(unsigned long long)f.file_off, pid == -1 ? "" : " for one process");
	return add_scope(p, obj, pid, true);
}

/* Attaches the loader probe to the file pinned at fd (a -errno: none), shown as display */
static int attach_loader_fd(struct ms_probes *p, int fd, const char *display, const struct stat *st,
			    pid_t pid, bool stop)
{
	char pinned[64];
	int err;

	if (fd < 0)
		return fd == -ESTALE ? -ENOENT : fd;
	fd_path(pinned, sizeof(pinned), fd);
	err = attach_loader_at(p, pinned, display, st, pid, stop);
	close(fd);
	return err;
}

int ms_probes_attach_loader(struct ms_probes *p, const char *path, pid_t pid, bool stop)
{
	struct stat st;

	return attach_loader_fd(p, ms_elf_pin_file(path, &st), path, &st, pid, stop);
}

int ms_probes_attach_loader_mapped(struct ms_probes *p, pid_t pid, const struct ms_mapping *m,
				   bool stop)
{
	char display[PATH_MAX];
	struct stat st;

	display_path(display, sizeof(display), pid, m);
	return attach_loader_fd(p, ms_maps_pin("/proc", pid, m, &st), display, &st, pid, stop);
}
