/* probes.c: allocator functions found in mapped objects, attached as uprobes */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <bpf/libbpf.h>
#include "elfsym.h"
#include "funcs.h"
#include "placement.h"
#include "probes.h"
#include "procmaps.h"

/* clang-format off */
#define N MS_ARG_NONE
const struct ms_fn_spec ms_libc_fns[] = {
	{ "malloc", MS_FN_ALLOC, 0, N, N, N },
	{ "calloc", MS_FN_ALLOC, 1, 0, N, N },
	{ "realloc", MS_FN_REALLOC, 1, N, 0, N },
	{ "reallocarray", MS_FN_REALLOC, 2, 1, 0, N },
	{ "free", MS_FN_FREE, N, N, 0, N },
	{ "posix_memalign", MS_FN_ALLOC, 2, N, N, 0 },
	{ "aligned_alloc", MS_FN_ALLOC, 1, N, N, N },
	{ "memalign", MS_FN_ALLOC, 1, N, N, N },
	{ "valloc", MS_FN_ALLOC, 0, N, N, N },
	{ "pvalloc", MS_FN_ALLOC, 0, N, N, N },
};
#undef N
/* clang-format on */
const size_t ms_libc_nfns = sizeof(ms_libc_fns) / sizeof(ms_libc_fns[0]);

#define MAX_FNS 16

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

#define MAX_CODE 65536 /* bytes of a function decoded for placement */

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
	ms_place_probe(code, n, protected_args(pt->spec), &pl);
	pt->file_off = f->file_off + pl.off;
	pt->why = pl.why;
	snprintf(pt->insn, sizeof(pt->insn), "%s", pl.insn);
}

int ms_probe_plan(const char *path, bool place_probes, struct ms_probe_point *pts, size_t max)
{
	const char *names[MAX_FNS];
	struct ms_elf_func found[MAX_FNS];
	size_t i, k, n = 0;
	int err, fd = -1;

	for (i = 0; i < ms_libc_nfns; i++)
		names[i] = ms_libc_fns[i].name;
	err = ms_elf_lookup(path, names, ms_libc_nfns, found);
	if (err < 0)
		return err;
	if (!found[0].found && !found[4].found)
		return -ENOENT;
	if (place_probes)
		fd = open(path, O_RDONLY | O_CLOEXEC);
	for (i = 0; i < ms_libc_nfns; i++) {
		if (!found[i].found)
			continue;
		/* an alias of an earlier function shares its probe and its name */
		for (k = 0; k < n; k++)
			if (pts[k].entry_off == found[i].file_off)
				break;
		if (k < n) {
			size_t len = strlen(pts[k].name);

			snprintf(pts[k].name + len, sizeof(pts[k].name) - len, "/%s", names[i]);
			continue;
		}
		if (n == max)
			break;
		memset(&pts[n], 0, sizeof(pts[n]));
		snprintf(pts[n].name, sizeof(pts[n].name), "%s", names[i]);
		pts[n].spec = &ms_libc_fns[i];
		pts[n].entry_off = pts[n].file_off = found[i].file_off;
		if (fd >= 0)
			place(fd, &found[i], &pts[n]);
		else
			pts[n].why = place_probes ? "the file cannot be read" : "placement is off";
		n++;
	}
	if (fd >= 0)
		close(fd);
	return n;
}

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

struct ms_probes {
	struct bpf_program *entry, *ret;
	bool place;
	int verbose;
	struct object *objs;
	size_t nobjs;
	struct scope *scopes;
	size_t nscopes;
	struct bpf_link **links;
	size_t nlinks, cap_links;
};

struct ms_probes *ms_probes_new(struct bpf_program *entry, struct bpf_program *ret, bool place,
				int verbose)
{
	struct ms_probes *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->entry = entry;
	p->ret = ret;
	p->place = place;
	p->verbose = verbose;
	return p;
}

void ms_probes_free(struct ms_probes *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->nlinks; i++)
		bpf_link__destroy(p->links[i]);
	free(p->links);
	free(p->objs);
	free(p->scopes);
	free(p);
}

size_t ms_probes_links(const struct ms_probes *p)
{
	return p->nlinks;
}

size_t ms_probes_objects(const struct ms_probes *p)
{
	return p->nobjs;
}

static int add_link(struct ms_probes *p, struct bpf_link *l)
{
	if (p->nlinks == p->cap_links) {
		size_t cap = p->cap_links ? p->cap_links * 2 : 64;
		struct bpf_link **v = realloc(p->links, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		p->links = v;
		p->cap_links = cap;
	}
	p->links[p->nlinks++] = l;
	return 0;
}

static int attach_one(struct ms_probes *p, struct bpf_program *prog, bool retprobe,
		      const char *path, uint64_t off, pid_t pid, uint64_t cookie)
{
	LIBBPF_OPTS(bpf_uprobe_opts, opts, .retprobe = retprobe, .bpf_cookie = cookie);
	struct bpf_link *l;
	int err;

	l = bpf_program__attach_uprobe_opts(prog, pid, path, off, &opts);
	if (!l)
		return -errno;
	err = add_link(p, l);
	if (err)
		bpf_link__destroy(l);
	return err;
}

/* The index of the object with dev/ino, added with path when new */
static long object_index(struct ms_probes *p, dev_t dev, ino_t ino, const char *path)
{
	struct object *v;
	size_t i;

	for (i = 0; i < p->nobjs; i++)
		if (p->objs[i].dev == dev && p->objs[i].ino == ino)
			return i;
	v = realloc(p->objs, (p->nobjs + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	p->objs = v;
	v[p->nobjs].dev = dev;
	v[p->nobjs].ino = ino;
	snprintf(v[p->nobjs].path, sizeof(v[p->nobjs].path), "%s", path);
	return p->nobjs++;
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
	struct scope *v = realloc(p->scopes, (p->nscopes + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	p->scopes = v;
	v[p->nscopes].obj = obj;
	v[p->nscopes].pid = pid;
	v[p->nscopes].loader = loader;
	p->nscopes++;
	return 0;
}

static int func_id(const char *name, enum ms_fn_kind kind)
{
	struct ms_func f = { .allocator = MS_ALLOC_LIBC, .kind = kind };
	unsigned id = ms_funcs_find(name, MS_ALLOC_LIBC, kind);

	if (id)
		return id;
	memcpy(f.name, name, strnlen(name, sizeof(f.name) - 1));
	return ms_funcs_add(&f);
}

static int attach_libc(struct ms_probes *p, const char *path, pid_t scope)
{
	struct ms_probe_point pts[MAX_FNS];
	int n, i, id, err;

	n = ms_probe_plan(path, p->place, pts, MAX_FNS);
	if (n < 0)
		return n;
	for (i = 0; i < n; i++) {
		const struct ms_fn_spec *s = pts[i].spec;
		uint64_t cookie;

		id = func_id(pts[i].name, s->kind);
		if (id < 0)
			return id;
		cookie = MS_CK_MAKE(id, MS_ALLOC_LIBC, s->kind, s->size_arg, s->nmemb_arg,
				    s->ptr_arg, s->out_arg);
		/* the return probe first: an entry without a return would stay pending */
		if (s->kind != MS_FN_FREE) {
			err = attach_one(p, p->ret, true, path, pts[i].file_off, scope, cookie);
			if (err)
				return err;
		}
		err = attach_one(p, p->entry, false, path, pts[i].file_off, scope, cookie);
		if (err)
			return err;
		if (p->verbose)
			fprintf(stderr,
				"memscope-bpf: probe %s at %s+0x%llx (entry+0x%llx%s%s%s%s)%s\n",
				pts[i].name, path, (unsigned long long)pts[i].file_off,
				(unsigned long long)(pts[i].file_off - pts[i].entry_off),
				pts[i].insn[0] ? ": " : "", pts[i].insn,
				pts[i].why ? "; stays at the entry: " : "",
				pts[i].why ? pts[i].why : "",
				scope == -1 ? "" : " for one process");
	}
	return 0;
}

struct scan_ctx {
	struct ms_probes *p;
	pid_t pid, scope;
	bool loaders; /* also attach the loader probe to dynamic loaders */
	int libcs, added, err;
};

static int scan_one(const struct ms_mapping *m, void *arg)
{
	struct scan_ctx *c = arg;
	char path[PATH_MAX];
	struct stat st;
	long obj;
	int err;

	if (c->loaders && ms_is_loader_path(m->path) && !m->deleted) {
		snprintf(path, sizeof(path), "/proc/%d/root%s", (int)c->pid, m->path);
		err = ms_probes_attach_loader(c->p, path, -1, false);
		if (err && err != -ENOENT)
			return c->err = err;
		return 0;
	}
	if (!ms_is_libc_path(m->path))
		return 0;
	c->libcs++;
	/* reach the file as the process sees it: its own root, or the mapping itself */
	if (m->deleted)
		snprintf(path, sizeof(path), "/proc/%d/map_files/%llx-%llx", (int)c->pid,
			 (unsigned long long)m->start, (unsigned long long)m->end);
	else
		snprintf(path, sizeof(path), "/proc/%d/root%s", (int)c->pid, m->path);
	if (stat(path, &st) || st.st_ino != m->inode)
		return 0; /* replaced since it was mapped */
	obj = object_index(c->p, st.st_dev, st.st_ino, path);
	if (obj < 0)
		return c->err = obj;
	if (attached(c->p, obj, c->scope, false))
		return 0;
	err = attach_libc(c->p, path, c->scope);
	if (err) {
		c->err = err;
		return err;
	}
	err = add_scope(c->p, obj, c->scope, false);
	if (err)
		return c->err = err;
	c->added++;
	return 0;
}

static int scan(struct ms_probes *p, pid_t pid, pid_t scope, bool loaders)
{
	struct scan_ctx c = { .p = p, .pid = pid, .scope = scope, .loaders = loaders };
	int err;

	err = ms_maps_for_each_exec("/proc", pid, scan_one, &c);
	if (err == -ENOENT)
		return -ESRCH;
	if (c.err)
		return c.err;
	if (err)
		return err;
	if (!c.libcs)
		return -ENOENT;
	return c.added;
}

int ms_probes_attach_pid(struct ms_probes *p, pid_t pid, pid_t scope)
{
	return scan(p, pid, scope, false);
}

int ms_probes_attach_all(struct ms_probes *p, pid_t pid)
{
	return scan(p, pid, -1, true);
}

int ms_probes_attach_loader(struct ms_probes *p, const char *path, pid_t pid, bool stop)
{
	static const char *const names[] = { "_dl_debug_state" };
	struct ms_elf_func f;
	struct stat st;
	uint64_t cookie;
	long obj;
	int err;

	if (stat(path, &st))
		return -errno;
	err = ms_elf_lookup(path, names, 1, &f);
	if (err < 0)
		return err;
	if (!f.found)
		return -ENOENT;
	obj = object_index(p, st.st_dev, st.st_ino, path);
	if (obj < 0)
		return obj;
	if (attached(p, obj, pid, true))
		return 0;
	cookie = MS_CK_MAKE(0, 0, MS_FN_DLSTATE, MS_ARG_NONE, MS_ARG_NONE, MS_ARG_NONE,
			    MS_ARG_NONE) |
		 (stop ? MS_CK_STOP : 0);
	err = attach_one(p, p->entry, false, path, f.file_off, pid, cookie);
	if (err)
		return err;
	if (p->verbose)
		fprintf(stderr, "memscope-bpf: loader probe at %s+0x%llx\n", path,
			(unsigned long long)f.file_off);
	return add_scope(p, obj, pid, true);
}
