/* pprof.c: heap profiles in pprof's profile.proto (compiled by protoc-c from the copy of
 * the format Debian's golang-github-google-pprof-dev ships), gzip-compressed with zlib */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "pprof.h"
#include "keyidx.h"
#include "symbolizer.h"
#include "proto/profile.pb-c.h"
#include "vec.h"

#define MAX_ADDRS 256  /* addresses of one site */
#define MAX_INLINED 16 /* frames at one address */

/* Strings, numbered in order; 0 is "" as the format wants */
struct strtab {
	char **v;
	size_t n, cap;
	struct ms_keyidx idx; /* (two hashes of the string) -> number */
};

struct pmapping {
	uint64_t start, limit, offset;
	int64_t file, build_id;
	bool functions, lines;
};

struct pfunc {
	int64_t name, file;
};

struct pline {
	uint32_t func; /* index into funcs */
	int64_t line;
};

struct ploc {
	uint32_t mapping; /* index + 1 into mappings, 0: none */
	uint64_t addr;
	uint32_t first, n; /* lines[first .. first + n), innermost first */
};

struct psample {
	pid_t pid;
	int64_t comm, allocator;
	int64_t v[4];	   /* alloc_objects, alloc_space, inuse_objects, inuse_space */
	int64_t bytes;	   /* the one block size, or -1 */
	uint32_t first, n; /* stack[first .. first + n): location indexes, innermost first */
};

struct ms_pprof {
	int refs;
	uint64_t time_ns, duration_ns, sample_bytes;
	struct strtab str;
	struct pmapping *maps;
	size_t nmaps, cap_maps;
	struct ms_keyidx map_idx; /* (pid, start) -> mapping */
	struct pfunc *funcs;
	size_t nfuncs, cap_funcs;
	struct ms_keyidx func_idx; /* (name, file) -> function */
	struct pline *lines;
	size_t nlines, cap_lines;
	struct ploc *locs;
	size_t nlocs, cap_locs;
	struct ms_keyidx loc_idx; /* (pid, address), or (frame string, ~0) -> location */
	uint32_t *stack;
	size_t nstack, cap_stack;
	struct psample *samples;
	size_t nsamples, cap_samples;
};

/* ---------------------------------------------------------------- building */

static uint64_t hash_str(const char *s, uint64_t h, uint64_t mul)
{
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * mul;
	return h;
}

/* The number of string s, added when new; -1 on ENOMEM */
static int64_t str_id(struct strtab *t, const char *s)
{
	long i = ms_keyidx_get(&t->idx, hash_str(s, 0xcbf29ce484222325ULL, 0x100000001b3ULL),
			       hash_str(s, 0x84222325cbf29ce4ULL, 0x1000193ULL) ^ strlen(s), true);
	char *copy;

	if (i < 0)
		return -1;
	if ((size_t)i < t->n)
		return i;
	copy = strdup(s);
	if (!copy || MS_VEC_PUSH(t->v, t->n, t->cap, copy)) {
		free(copy);
		return -1;
	}
	return i;
}

struct ms_pprof *ms_pprof_new(uint64_t time_ns, uint64_t duration_ns, uint64_t sample_bytes)
{
	struct ms_pprof *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->refs = 1;
	s->time_ns = time_ns;
	s->duration_ns = duration_ns;
	s->sample_bytes = sample_bytes;
	if (str_id(&s->str, "") != 0) {
		ms_pprof_unref(s);
		return NULL;
	}
	return s;
}

struct ms_pprof *ms_pprof_ref(struct ms_pprof *s)
{
	__atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
	return s;
}

void ms_pprof_unref(struct ms_pprof *s)
{
	size_t i;

	if (!s || __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL))
		return;
	for (i = 0; i < s->str.n; i++)
		free(s->str.v[i]);
	free(s->str.v);
	ms_keyidx_free(&s->str.idx);
	free(s->maps);
	ms_keyidx_free(&s->map_idx);
	free(s->funcs);
	ms_keyidx_free(&s->func_idx);
	free(s->lines);
	free(s->locs);
	ms_keyidx_free(&s->loc_idx);
	free(s->stack);
	free(s->samples);
	free(s);
}

/* The function of a frame string, added when new; its line into *line. -1 on ENOMEM */
static long func_of(struct ms_pprof *s, const char *frame, int64_t *line)
{
	char fn[MS_PPROF_FRAME_LEN], file[MS_PPROF_FRAME_LEN];
	struct ms_frame_parts p;
	struct pfunc f;
	long i;

	ms_frame_parse(frame, &p);
	snprintf(fn, sizeof(fn), "%.*s", (int)p.fn_len, frame);
	snprintf(file, sizeof(file), "%.*s", (int)p.file_len, frame + p.file_at);
	*line = p.line;
	f.name = str_id(&s->str, fn);
	f.file = str_id(&s->str, file);
	if (f.name < 0 || f.file < 0)
		return -1;
	i = ms_keyidx_get(&s->func_idx, f.name, f.file, true);
	if (i < 0 || ((size_t)i == s->nfuncs && MS_VEC_PUSH(s->funcs, s->nfuncs, s->cap_funcs, f)))
		return -1;
	return i;
}

/* The mapping of pid that holds addr (index + 1, 0: none); -1 on ENOMEM */
static long mapping_of(struct ms_pprof *s, pid_t pid, uint64_t addr,
		       const struct ms_pprof_frames *f)
{
	struct ms_symcache_mapping m;
	struct pmapping pm = { 0 };
	long i;

	if (!f->mapping || f->mapping(pid, addr, &m, f->ctx))
		return 0;
	i = ms_keyidx_get(&s->map_idx, (uint64_t)pid, m.start, true);
	if (i < 0)
		return -1;
	if ((size_t)i == s->nmaps) {
		/* from where the object's file begins (offset 0): go tool pprof takes a
		 * mapping's start for the object's load address when it reads the binary
		 * (-disasm), upstream pprof derives the same from the segments */
		pm.start = m.offset <= m.start ? m.start - m.offset : m.start;
		pm.limit = m.end;
		pm.offset = m.offset <= m.start ? 0 : m.offset;
		pm.file = str_id(&s->str, m.path);
		pm.build_id = str_id(&s->str, m.build_id);
		if (pm.file < 0 || pm.build_id < 0 ||
		    MS_VEC_PUSH(s->maps, s->nmaps, s->cap_maps, pm))
			return -1;
	}
	return i + 1;
}

/* Appends a location's lines from its frames, innermost first */
static int add_lines(struct ms_pprof *s, struct ploc *l, char (*frames)[MS_PPROF_FRAME_LEN],
		     unsigned n)
{
	struct pline pl;
	unsigned k;
	long fn;

	l->first = s->nlines;
	for (k = 0; k < n; k++) {
		fn = func_of(s, frames[k], &pl.line);
		if (fn < 0)
			return -ENOMEM;
		pl.func = fn;
		if (MS_VEC_PUSH(s->lines, s->nlines, s->cap_lines, pl))
			return -ENOMEM;
		if (l->mapping) {
			s->maps[l->mapping - 1].functions |= s->funcs[fn].name != 0;
			s->maps[l->mapping - 1].lines |= pl.line > 0;
		}
	}
	l->n = s->nlines - l->first;
	return 0;
}

/* The location of addr in pid (its index), added with its lines when new; -1 on ENOMEM */
static long loc_of_addr(struct ms_pprof *s, pid_t pid, uint64_t addr,
			const struct ms_pprof_frames *f)
{
	static char frames[MAX_INLINED][MS_PPROF_FRAME_LEN];
	struct ploc l = { .addr = addr };
	long i = ms_keyidx_get(&s->loc_idx, (uint64_t)pid, addr, true), m;
	int n;

	if (i < 0 || (size_t)i < s->nlocs)
		return i;
	m = mapping_of(s, pid, addr, f);
	if (m < 0)
		return -1;
	l.mapping = m;
	n = f->frames_of ? f->frames_of(pid, addr, frames, MAX_INLINED, f->ctx) : -1;
	if (n <= 0) {
		snprintf(frames[0], sizeof(frames[0]), "0x%llx", (unsigned long long)addr);
		n = 1;
	}
	if (add_lines(s, &l, frames, n) || MS_VEC_PUSH(s->locs, s->nlocs, s->cap_locs, l))
		return -1;
	return i;
}

/* The location of a frame known by name only (no address); -1 on ENOMEM */
static long loc_of_name(struct ms_pprof *s, char (*frame)[MS_PPROF_FRAME_LEN])
{
	int64_t id = str_id(&s->str, *frame);
	struct ploc l = { 0 };
	long i;

	if (id < 0)
		return -1;
	i = ms_keyidx_get(&s->loc_idx, (uint64_t)id, ~0ULL, true);
	if (i < 0 || (size_t)i < s->nlocs)
		return i;
	if (add_lines(s, &l, frame, 1) || MS_VEC_PUSH(s->locs, s->nlocs, s->cap_locs, l))
		return -1;
	return i;
}

static int push_loc(struct ms_pprof *s, long loc)
{
	uint32_t id = (uint32_t)loc;

	return MS_VEC_PUSH(s->stack, s->nstack, s->cap_stack, id);
}

static int64_t whole(double v)
{
	return v > 0 ? llround(v) : 0;
}

static int add_site(struct ms_pprof *s, const struct ms_pprof_proc *p,
		    const struct ms_stack_site *t, int64_t comm, const struct ms_pprof_frames *f)
{
	static char frames[MAX_ADDRS][MS_PPROF_FRAME_LEN];
	uint64_t ips[MAX_ADDRS];
	struct psample x = { .pid = p->pid, .comm = comm, .bytes = -1 };
	unsigned n, k;
	long loc;

	x.v[0] = whole(t->allocs);
	x.v[1] = whole(t->alloc_bytes);
	x.v[2] = whole(t->live_allocs);
	x.v[3] = whole(t->live_bytes);
	if (!x.v[0] && !x.v[2])
		return 0;
	if (!t->sizes_vary)
		x.bytes = (int64_t)t->size;
	x.allocator = str_id(&s->str,
			     t->allocators_vary ? "several" :
			     p->allocator_name ? p->allocator_name(t->allocator, p->allocator_ctx) :
						 "");
	if (x.allocator < 0)
		return -ENOMEM;
	x.first = s->nstack;
	n = f->addrs ? f->addrs(p->pid, t, ips, MAX_ADDRS, f->ctx) : 0;
	if (n) {
		for (k = 0; k < n; k++) {
			loc = loc_of_addr(s, p->pid, ips[k], f);
			if (loc < 0 || push_loc(s, loc))
				return -ENOMEM;
		}
	} else if (f->names) {
		n = f->names(p->pid, t, frames, MAX_ADDRS, f->ctx);
		for (k = 0; k < n; k++) {
			loc = loc_of_name(s, &frames[k]);
			if (loc < 0 || push_loc(s, loc))
				return -ENOMEM;
		}
	}
	x.n = s->nstack - x.first;
	return MS_VEC_PUSH(s->samples, s->nsamples, s->cap_samples, x);
}

int ms_pprof_add(struct ms_pprof *s, const struct ms_pprof_proc *p, const struct ms_pprof_frames *f)
{
	int64_t comm = str_id(&s->str, p->comm ? p->comm : "");
	size_t i;
	int err;

	if (comm < 0)
		return -ENOMEM;
	for (i = 0; p->sites && i < p->sites->n; i++) {
		err = add_site(s, p, &p->sites->v[i], comm, f);
		if (err)
			return err;
	}
	return 0;
}

static bool keeps(const struct ms_pprof *s, const struct ms_pprof_filter *f,
		  const struct psample *x)
{
	return !f ||
	       ((!f->pid || x->pid == f->pid) && (!f->comm || !strcmp(s->str.v[x->comm], f->comm)));
}

bool ms_pprof_has(const struct ms_pprof *s, const struct ms_pprof_filter *f)
{
	size_t i;

	for (i = 0; i < s->nsamples; i++)
		if (keeps(s, f, &s->samples[i]))
			return true;
	return false;
}

/* ---------------------------------------------------------------- encoding */

/* What an encoding keeps of the tables: each kept entry's new id (1-based; strings
 * 0-based with "" first), 0 (or -1 for strings) when left out */
struct renum {
	int64_t *str;
	uint64_t *map, *func, *loc;
	size_t nstr, nmap, nfunc, nloc;
};

static int64_t keep_str(struct renum *r, int64_t id)
{
	if (r->str[id] < 0)
		r->str[id] = r->nstr++;
	return r->str[id];
}

static void renum_free(struct renum *r)
{
	free(r->str);
	free(r->map);
	free(r->func);
	free(r->loc);
}

/* gzip of in (n bytes) into *out, *len; 0 or -ENOMEM */
static int gzip(const uint8_t *in, size_t n, uint8_t **out, size_t *len)
{
	z_stream z = { 0 };
	uLong cap;
	int r;

	if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	cap = deflateBound(&z, n) + 32;
	*out = malloc(cap);
	if (!*out) {
		deflateEnd(&z);
		return -ENOMEM;
	}
	z.next_in = (Bytef *)in;
	z.avail_in = n;
	z.next_out = *out;
	z.avail_out = cap;
	r = deflate(&z, Z_FINISH);
	*len = z.total_out;
	deflateEnd(&z);
	if (r != Z_STREAM_END) {
		free(*out);
		*out = NULL;
		return -ENOMEM;
	}
	return 0;
}

int ms_pprof_encode(const struct ms_pprof *s, const struct ms_pprof_filter *f, bool allocs,
		    uint8_t **out, size_t *len)
{
	static const char *const types[4][2] = { { "alloc_objects", "count" },
						 { "alloc_space", "bytes" },
						 { "inuse_objects", "count" },
						 { "inuse_space", "bytes" } };
	Perftools__Profiles__Profile pr = PERFTOOLS__PROFILES__PROFILE__INIT;
	Perftools__Profiles__ValueType vt[4], period = PERFTOOLS__PROFILES__VALUE_TYPE__INIT;
	Perftools__Profiles__ValueType *vtp[4];
	Perftools__Profiles__Sample *sm = NULL, **smp = NULL;
	Perftools__Profiles__Label *lb = NULL, **lbp = NULL;
	Perftools__Profiles__Mapping *mp = NULL, **mpp = NULL;
	Perftools__Profiles__Function *fn = NULL, **fnp = NULL;
	Perftools__Profiles__Location *lc = NULL, **lcp = NULL;
	Perftools__Profiles__Line *ln = NULL, **lnp = NULL;
	uint64_t *loc_ids = NULL;
	char **strs = NULL, (*pid_text)[12] = NULL;
	struct ms_keyidx pids = { 0 }; /* pid -> its label's string, in pid_text */
	size_t npids = 0, first_pid;
	struct renum r = { 0 };
	size_t i, k, nsm = 0, nlb = 0, nln = 0, nids = 0, packed;
	int64_t key_pid, key_comm, key_alloc, key_bytes, unit_bytes;
	uint8_t *buf = NULL;
	int err = -ENOMEM;

	*out = NULL;
	*len = 0;
	r.str = malloc((s->str.n + 1) * sizeof(*r.str));
	r.map = calloc(s->nmaps + 1, sizeof(*r.map));
	r.func = calloc(s->nfuncs + 1, sizeof(*r.func));
	r.loc = calloc(s->nlocs + 1, sizeof(*r.loc));
	if (!r.str || !r.map || !r.func || !r.loc)
		goto out;
	for (i = 0; i < s->str.n; i++)
		r.str[i] = -1;
	keep_str(&r, 0);
	/* the samples kept, and what they reach */
	for (i = 0; i < s->nsamples; i++) {
		const struct psample *x = &s->samples[i];

		if (!keeps(s, f, x))
			continue;
		nsm++;
		nids += x->n;
		if (ms_keyidx_get(&pids, (uint64_t)x->pid, 0, true) < 0)
			goto out;
		keep_str(&r, x->comm);
		keep_str(&r, x->allocator);
		for (k = 0; k < x->n; k++) {
			const struct ploc *l = &s->locs[s->stack[x->first + k]];
			uint32_t j;

			if (r.loc[s->stack[x->first + k]])
				continue;
			r.loc[s->stack[x->first + k]] = ++r.nloc;
			nln += l->n;
			if (l->mapping && !r.map[l->mapping - 1]) {
				r.map[l->mapping - 1] = ++r.nmap;
				keep_str(&r, s->maps[l->mapping - 1].file);
				keep_str(&r, s->maps[l->mapping - 1].build_id);
			}
			for (j = 0; j < l->n; j++) {
				uint32_t fi = s->lines[l->first + j].func;

				if (!r.func[fi]) {
					r.func[fi] = ++r.nfunc;
					keep_str(&r, s->funcs[fi].name);
					keep_str(&r, s->funcs[fi].file);
				}
			}
		}
	}
	/* the label keys and units, and the types', after the tables' strings */
	for (i = 0; i < 4; i++) {
		perftools__profiles__value_type__init(&vt[i]);
		vtp[i] = &vt[i];
	}
	npids = pids.n;
	strs = calloc(r.nstr + 13 + npids, sizeof(*strs));
	pid_text = calloc(npids + 1, sizeof(*pid_text));
	if (!strs || !pid_text)
		goto out;
	for (i = 0; i < s->str.n; i++)
		if (r.str[i] >= 0)
			strs[r.str[i]] = s->str.v[i];
#define EXTRA(var, text)                                                                           \
	do {                                                                                       \
		strs[r.nstr] = (char *)(text);                                                     \
		var = r.nstr++;                                                                    \
	} while (0)
	for (i = 0; i < 4; i++) {
		EXTRA(vt[i].type, types[i][0]);
		EXTRA(vt[i].unit, types[i][1]);
	}
	EXTRA(key_pid, "pid");
	EXTRA(key_comm, "comm");
	EXTRA(key_alloc, "allocator");
	EXTRA(key_bytes, "bytes");
	unit_bytes = vt[1].unit;
	EXTRA(period.type, "space");
	period.unit = unit_bytes;
	/* the pids' strings: the string labels' values */
	first_pid = r.nstr;
	for (i = 0; i < s->nsamples; i++) {
		long p = keeps(s, f, &s->samples[i]) ?
				 ms_keyidx_get(&pids, (uint64_t)s->samples[i].pid, 0, false) :
				 -1;

		if (p >= 0 && !pid_text[p][0]) {
			snprintf(pid_text[p], sizeof(pid_text[p]), "%d", (int)s->samples[i].pid);
			strs[first_pid + p] = pid_text[p];
		}
	}
	r.nstr += npids;
#undef EXTRA
	pr.n_sample_type = 4;
	pr.sample_type = vtp;
	pr.period_type = &period;
	pr.period = s->sample_bytes ? (int64_t)s->sample_bytes : 1;
	pr.default_sample_type = allocs ? vt[1].type : vt[3].type;
	pr.time_nanos = (int64_t)s->time_ns;
	pr.duration_nanos = (int64_t)s->duration_ns;

	/* mappings, functions, locations with their lines */
	mp = calloc(r.nmap + 1, sizeof(*mp));
	mpp = calloc(r.nmap + 1, sizeof(*mpp));
	fn = calloc(r.nfunc + 1, sizeof(*fn));
	fnp = calloc(r.nfunc + 1, sizeof(*fnp));
	lc = calloc(r.nloc + 1, sizeof(*lc));
	lcp = calloc(r.nloc + 1, sizeof(*lcp));
	ln = calloc(nln + 1, sizeof(*ln));
	lnp = calloc(nln + 1, sizeof(*lnp));
	sm = calloc(nsm + 1, sizeof(*sm));
	smp = calloc(nsm + 1, sizeof(*smp));
	lb = calloc(5 * nsm + 1, sizeof(*lb));
	lbp = calloc(5 * nsm + 1, sizeof(*lbp));
	loc_ids = calloc(nids + 1, sizeof(*loc_ids));
	if (!mp || !mpp || !fn || !fnp || !lc || !lcp || !ln || !lnp || !sm || !smp || !lb ||
	    !lbp || !loc_ids)
		goto out;
	for (i = 0; i < s->nmaps; i++) {
		Perftools__Profiles__Mapping *m;

		if (!r.map[i])
			continue;
		m = &mp[r.map[i] - 1];
		perftools__profiles__mapping__init(m);
		m->id = r.map[i];
		m->memory_start = s->maps[i].start;
		m->memory_limit = s->maps[i].limit;
		m->file_offset = s->maps[i].offset;
		m->filename = r.str[s->maps[i].file];
		m->build_id = r.str[s->maps[i].build_id];
		m->has_functions = s->maps[i].functions;
		m->has_filenames = s->maps[i].lines;
		m->has_line_numbers = s->maps[i].lines;
		m->has_inline_frames = s->maps[i].lines;
		mpp[r.map[i] - 1] = m;
	}
	for (i = 0; i < s->nfuncs; i++) {
		Perftools__Profiles__Function *g;

		if (!r.func[i])
			continue;
		g = &fn[r.func[i] - 1];
		perftools__profiles__function__init(g);
		g->id = r.func[i];
		g->name = g->system_name = r.str[s->funcs[i].name];
		g->filename = r.str[s->funcs[i].file];
		fnp[r.func[i] - 1] = g;
	}
	for (i = 0, k = 0; i < s->nlocs; i++) {
		const struct ploc *l = &s->locs[i];
		Perftools__Profiles__Location *o;
		uint32_t j;

		if (!r.loc[i])
			continue;
		o = &lc[r.loc[i] - 1];
		perftools__profiles__location__init(o);
		o->id = r.loc[i];
		o->address = l->addr;
		o->mapping_id = l->mapping ? r.map[l->mapping - 1] : 0;
		o->n_line = l->n;
		o->line = &lnp[k];
		for (j = 0; j < l->n; j++, k++) {
			perftools__profiles__line__init(&ln[k]);
			ln[k].function_id = r.func[s->lines[l->first + j].func];
			ln[k].line = s->lines[l->first + j].line;
			lnp[k] = &ln[k];
		}
		lcp[r.loc[i] - 1] = o;
	}
	/* the samples */
	for (i = 0, k = 0, nids = 0; i < s->nsamples; i++) {
		const struct psample *x = &s->samples[i];
		Perftools__Profiles__Sample *o;
		uint32_t j;

		if (!keeps(s, f, x))
			continue;
		o = &sm[k];
		perftools__profiles__sample__init(o);
		o->n_location_id = x->n;
		o->location_id = &loc_ids[nids];
		for (j = 0; j < x->n; j++)
			loc_ids[nids++] = r.loc[s->stack[x->first + j]];
		o->n_value = 4;
		o->value = (int64_t *)x->v;
		o->label = &lbp[nlb];
#define LABEL(k_, str_, num_, unit_)                                                               \
	do {                                                                                       \
		perftools__profiles__label__init(&lb[nlb]);                                        \
		lb[nlb].key = (k_);                                                                \
		lb[nlb].str = (str_);                                                              \
		lb[nlb].num = (num_);                                                              \
		lb[nlb].num_unit = (unit_);                                                        \
		lbp[nlb] = &lb[nlb];                                                               \
		nlb++;                                                                             \
		o->n_label++;                                                                      \
	} while (0)
		/* pid twice: a string for the label selectors of Pyroscope and Parca, a
		 * number for pprof's -tagfocus pid=N (which takes a number as a range) */
		LABEL(key_pid, first_pid + ms_keyidx_get(&pids, (uint64_t)x->pid, 0, false), 0, 0);
		LABEL(key_pid, 0, x->pid, 0);
		LABEL(key_comm, r.str[x->comm], 0, 0);
		LABEL(key_alloc, r.str[x->allocator], 0, 0);
		if (x->bytes >= 0)
			LABEL(key_bytes, 0, x->bytes, unit_bytes);
#undef LABEL
		smp[k++] = o;
	}
	pr.string_table = strs;
	pr.n_string_table = r.nstr;
	pr.n_mapping = r.nmap;
	pr.mapping = mpp;
	pr.n_function = r.nfunc;
	pr.function = fnp;
	pr.n_location = r.nloc;
	pr.location = lcp;
	pr.n_sample = nsm;
	pr.sample = smp;
	packed = perftools__profiles__profile__get_packed_size(&pr);
	buf = malloc(packed ? packed : 1);
	if (!buf)
		goto out;
	perftools__profiles__profile__pack(&pr, buf);
	err = gzip(buf, packed, out, len);
out:
	free(buf);
	free(pid_text);
	ms_keyidx_free(&pids);
	free(mp);
	free(mpp);
	free(fn);
	free(fnp);
	free(lc);
	free(lcp);
	free(ln);
	free(lnp);
	free(sm);
	free(smp);
	free(lb);
	free(lbp);
	free(loc_ids);
	free(strs);
	renum_free(&r);
	return err;
}
