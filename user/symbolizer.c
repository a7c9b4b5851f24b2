/* symbolizer.c: file offsets to function, offset and file:line with libdwfl, cached per build-id */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <elfutils/libdwelf.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <gelf.h>
#include <libiberty/demangle.h>
#include <zlib.h>
#include "elfsym.h"
#include "symbolizer.h"

/*
 * Three caches, looked up in this order by ms_symbolizer_resolve_as:
 *   files:   (dev, ino, size, mtime) -> object key (its build-id), so a known file costs
 *            a stat() and no open
 *   addrs:   (object key, file offset) -> the answer, LRU, bounded in entries and bytes;
 *            it outlives the module, keyed by content rather than by a pointer
 *   modules: object key -> one Dwfl with the object reported at bias 0, LRU
 */

#define KEY_BYTES 32

struct objkey {
	uint8_t kind; /* KEY_BUILD_ID or KEY_FILE */
	uint8_t len;
	uint8_t b[KEY_BYTES]; /* the build-id (a longer one cut here), or dev/ino/size/mtime */
};

enum { KEY_BUILD_ID = 1, KEY_FILE = 2 };

struct file_ent {
	bool used;
	int err; /* -errno when the file is no usable ELF object, else 0 */
	uint64_t dev, ino, size, mtime_ns;
	struct objkey key;
};

/* The two LRU lists (addresses, modules): circular, doubly linked, with a sentinel head;
 * the most recent first */
#define LRU_UNLINK(e)                                                                              \
	do {                                                                                       \
		(e)->prev->next = (e)->next;                                                       \
		(e)->next->prev = (e)->prev;                                                       \
	} while (0)
#define LRU_PUSH_FRONT(head, e)                                                                    \
	do {                                                                                       \
		(e)->next = (head)->next;                                                          \
		(e)->prev = (head);                                                                \
		(head)->next->prev = (e);                                                          \
		(head)->next = (e);                                                                \
	} while (0)

struct addr_ent {
	struct addr_ent *hnext;	      /* hash chain */
	struct addr_ent *prev, *next; /* LRU list, most recent first */
	uint64_t hash;
	struct objkey key;
	uint64_t file_off;
	uint64_t offset;
	int line;
	uint16_t func_len, file_len, inl_len;
	char str[]; /* function, NUL, file, NUL, inlined, NUL */
};

struct seg {
	uint64_t off, filesz, vaddr; /* a PT_LOAD: file range and where it is in the module */
};

struct module {
	struct module *prev, *next; /* LRU list, most recent first */
	struct objkey key;
	Dwfl *dwfl;
	Dwfl_Module *mod;
	Dwfl_Callbacks cb;
	char *debug_path; /* where find_debuginfo looks: the debug path, and the copies of its
			   * absolute directories under the object's /proc/PID/root */
	char *own_path;	  /* cb.debuginfo_path points here (libdwfl's own searches, for a
			   * dwz file: the debug path alone); lives as long as dwfl */
	size_t nsegs;
	struct seg *segs;
	bool alt_found; /* find_debuginfo gave libdwfl the dwz file the DWARF names */
	int dwarf_ok;	/* dwarf_safe's answer: 1, 0, or -1 before it is asked */
};

struct ms_symbolizer {
	char *debug_path; /* NULL: libdwfl's default */
	size_t addr_max, addr_bytes_max, modules_max, files_max;

	struct file_ent *files; /* open addressing, 2 * files_max slots */
	size_t nfiles;

	struct addr_ent **buckets; /* nbuckets, a power of two */
	size_t nbuckets;
	struct addr_ent lru; /* sentinel of the address LRU list */
	size_t naddrs, addr_bytes;

	struct module mods; /* sentinel of the module LRU list */
	size_t nmods;
	struct module *loading; /* the module module_load is building, until it is cached */

	struct ms_symbolizer_stats st;
};

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n--)
		h = (h ^ *b++) * 0x100000001b3ULL;
	return h;
}

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	return x ^ (x >> 33);
}

static bool key_eq(const struct objkey *a, const struct objkey *b)
{
	return a->kind == b->kind && a->len == b->len && !memcmp(a->b, b->b, a->len);
}

static uint64_t addr_hash(const struct objkey *k, uint64_t file_off)
{
	uint64_t h = fnv1a(0xcbf29ce484222325ULL, &k->kind, 1);

	h = fnv1a(h, k->b, k->len);
	return mix64(h ^ mix64(file_off));
}

/* src into dst of len bytes, cut to fit */
static void copy_str(char *dst, size_t len, const char *src)
{
	size_t n = strlen(src);

	if (!len)
		return;
	if (n >= len)
		n = len - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* ---- demangling ---- */

void ms_demangle(const char *sym, char *buf, size_t len)
{
	char plain[1024], *d = NULL;
	const char *at;

	if (!len)
		return;
	/* "memcpy@@GLIBC_2.14": the version is not part of the name */
	at = sym[0] ? strchr(sym + 1, '@') : NULL;
	if (at && (size_t)(at - sym) < sizeof(plain)) {
		memcpy(plain, sym, at - sym);
		plain[at - sym] = '\0';
		sym = plain;
	}
	/* Rust first (legacy Rust names are also valid C++ names), then C++ */
	if (sym[0] == '_' && (sym[1] == 'Z' || sym[1] == 'R'))
		d = cplus_demangle(sym, DMGL_PARAMS | DMGL_ANSI | DMGL_AUTO);
	copy_str(buf, len, d ? d : sym);
	free(d);
}

/* ---- the file identity cache ---- */

static uint64_t mtime_ns(const struct stat *st)
{
	return (uint64_t)st->st_mtim.tv_sec * 1000000000ULL + (uint64_t)st->st_mtim.tv_nsec;
}

static size_t file_slot(const struct ms_symbolizer *s, const struct stat *st)
{
	uint64_t h = mix64(st->st_ino ^ mix64(st->st_dev ^ mix64(st->st_size ^ mtime_ns(st))));

	return h & (2 * s->files_max - 1);
}

static bool file_matches(const struct file_ent *f, const struct stat *st)
{
	return f->dev == (uint64_t)st->st_dev && f->ino == (uint64_t)st->st_ino &&
	       f->size == (uint64_t)st->st_size && f->mtime_ns == mtime_ns(st);
}

static struct file_ent *file_lookup(struct ms_symbolizer *s, const struct stat *st)
{
	size_t mask = 2 * s->files_max - 1, i;

	for (i = file_slot(s, st); s->files[i].used; i = (i + 1) & mask)
		if (file_matches(&s->files[i], st))
			return &s->files[i];
	return NULL;
}

/* Adds the identity of st; clears the table when full (it only saves a re-read) */
static struct file_ent *file_insert(struct ms_symbolizer *s, const struct stat *st)
{
	size_t mask = 2 * s->files_max - 1, i;
	struct file_ent *f;

	if ((f = file_lookup(s, st)))
		return f;
	if (s->nfiles >= s->files_max) {
		memset(s->files, 0, 2 * s->files_max * sizeof(*s->files));
		s->nfiles = 0;
	}
	for (i = file_slot(s, st); s->files[i].used; i = (i + 1) & mask)
		;
	f = &s->files[i];
	memset(f, 0, sizeof(*f));
	f->used = true;
	f->dev = st->st_dev;
	f->ino = st->st_ino;
	f->size = st->st_size;
	f->mtime_ns = mtime_ns(st);
	s->nfiles++;
	return f;
}

/* ---- the address cache ---- */

static void addr_unlink(struct ms_symbolizer *s, struct addr_ent *e)
{
	struct addr_ent **pp = &s->buckets[e->hash & (s->nbuckets - 1)];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	LRU_UNLINK(e);
	s->naddrs--;
	s->addr_bytes -= sizeof(*e) + e->func_len + e->file_len + e->inl_len + 3;
	free(e);
}

static void addr_clear(struct ms_symbolizer *s)
{
	while (s->lru.next != &s->lru)
		addr_unlink(s, s->lru.next);
}

static struct addr_ent *addr_lookup(struct ms_symbolizer *s, const struct objkey *k,
				    uint64_t file_off)
{
	uint64_t h = addr_hash(k, file_off);
	struct addr_ent *e;

	for (e = s->buckets[h & (s->nbuckets - 1)]; e; e = e->hnext) {
		if (e->hash != h || e->file_off != file_off || !key_eq(&e->key, k))
			continue;
		LRU_UNLINK(e);
		LRU_PUSH_FRONT(&s->lru, e);
		return e;
	}
	return NULL;
}

/* Caches f as the answer for (k, file_off); a failed allocation only loses the entry */
static void addr_insert(struct ms_symbolizer *s, const struct objkey *k, uint64_t file_off,
			const struct ms_frame_info *f)
{
	size_t fl = strlen(f->function), sl = strlen(f->file), il = strlen(f->inlined),
	       sz = sizeof(struct addr_ent) + fl + sl + il + 3;
	struct addr_ent *e, **b;

	while (s->naddrs && (s->naddrs >= s->addr_max || s->addr_bytes + sz > s->addr_bytes_max)) {
		addr_unlink(s, s->lru.prev);
		s->st.addr_evicted++;
	}
	e = malloc(sz);
	if (!e)
		return;
	e->hash = addr_hash(k, file_off);
	e->key = *k;
	e->file_off = file_off;
	e->offset = f->offset;
	e->line = f->line;
	e->func_len = fl;
	e->file_len = sl;
	e->inl_len = il;
	memcpy(e->str, f->function, fl + 1);
	memcpy(e->str + fl + 1, f->file, sl + 1);
	memcpy(e->str + fl + sl + 2, f->inlined, il + 1);
	b = &s->buckets[e->hash & (s->nbuckets - 1)];
	e->hnext = *b;
	*b = e;
	LRU_PUSH_FRONT(&s->lru, e);
	s->naddrs++;
	s->addr_bytes += sz;
}

static int addr_buckets(struct ms_symbolizer *s, size_t entries)
{
	size_t n = 1024;
	struct addr_ent **b;

	while (n < entries)
		n <<= 1;
	b = calloc(n, sizeof(*b));
	if (!b)
		return -ENOMEM;
	addr_clear(s);
	free(s->buckets);
	s->buckets = b;
	s->nbuckets = n;
	return 0;
}

/* ---- modules ---- */

static void module_free(struct module *m)
{
	if (!m)
		return;
	if (m->dwfl)
		dwfl_end(m->dwfl);
	free(m->debug_path);
	free(m->own_path);
	free(m->segs);
	free(m);
}

static void module_drop(struct ms_symbolizer *s, struct module *m)
{
	LRU_UNLINK(m);
	s->nmods--;
	module_free(m);
}

static struct module *module_lookup(struct ms_symbolizer *s, const struct objkey *k)
{
	struct module *m;

	for (m = s->mods.next; m != &s->mods; m = m->next) {
		if (!key_eq(&m->key, k))
			continue;
		LRU_UNLINK(m);
		LRU_PUSH_FRONT(&s->mods, m);
		return m;
	}
	return NULL;
}

/* "/proc/PID/root" of a path under another process's root, into buf; false otherwise */
static bool proc_root(const char *path, char *buf, size_t len)
{
	const char *p, *slash;

	if (strncmp(path, "/proc/", 6))
		return false;
	p = path + 6;
	slash = strchr(p, '/');
	if (!slash || slash == p || strncmp(slash, "/root/", 6))
		return false;
	if ((size_t)(slash + 5 - path) >= len)
		return false;
	memcpy(buf, path, slash + 5 - path);
	buf[slash + 5 - path] = '\0';
	return true;
}

/* The debug path for an object at path: the configured one, plus its root's copies of
 * the absolute directories when path is under /proc/PID/root */
static char *module_debug_path(const struct ms_symbolizer *s, const char *path)
{
	const char *base = s->debug_path ? s->debug_path : "-:.debug:/usr/lib/debug";
	char root[64], *out, *copy, *dir, *save = NULL;
	size_t len;

	if (!proc_root(path, root, sizeof(root)))
		return strdup(base);
	len = strlen(base) + 1;
	copy = strdup(base);
	if (!copy)
		return NULL;
	for (dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save))
		len += strlen(root) + strlen(dir) + 2;
	free(copy);
	out = malloc(len);
	copy = strdup(base);
	if (!out || !copy) {
		free(out);
		free(copy);
		return NULL;
	}
	strcpy(out, base);
	save = NULL;
	for (dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		if (dir[0] == '+' || dir[0] == '-')
			dir++;
		if (dir[0] != '/')
			continue;
		strcat(out, ":");
		strcat(out, root);
		strcat(out, dir);
	}
	free(copy);
	return out;
}

static int read_segments(Elf *elf, struct module *m)
{
	size_t phnum, i;

	if (elf_getphdrnum(elf, &phnum))
		return -ENOEXEC;
	m->segs = calloc(phnum ? phnum : 1, sizeof(*m->segs));
	if (!m->segs)
		return -ENOMEM;
	for (i = 0; i < phnum; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, i, &ph))
			return -ENOEXEC;
		if (ph.p_type != PT_LOAD || !ph.p_filesz)
			continue;
		m->segs[m->nsegs++] = (struct seg){ ph.p_offset, ph.p_filesz, ph.p_vaddr };
	}
	return m->nsegs ? 0 : -ENOEXEC;
}

/* ---- separate debug files ---- */

/* The GNU debuglink CRC (zlib's CRC-32) of the file at fd, of size bytes; false when it
 * cannot be read or is larger than the inflate bound */
static bool file_crc(int fd, uint64_t size, uint32_t *crc)
{
	static unsigned char buf[65536];
	uint64_t off = 0;
	ssize_t n;

	if (size > MS_ELF_INFLATE_MAX)
		return false;
	*crc = crc32(0, NULL, 0);
	while ((n = pread(fd, buf, sizeof(buf), off)) > 0) {
		*crc = crc32(*crc, buf, n);
		off += n;
	}
	return n == 0;
}

/*
 * The debug file candidate at path, opened as a regular file without blocking (a FIFO put
 * there by a traced process is never opened), within the bounds of elfsym.h, not the main
 * file itself, and the module's: the same build-id (bid), or without one the debuglink's
 * CRC when check is asked. Returns the descriptor, or -1.
 */
static int debug_candidate(const char *path, const struct stat *main_st, const void *bid,
			   int bidlen, bool check, GElf_Word crc)
{
	struct stat st;
	const void *id = NULL;
	uint32_t sum;
	Elf *elf;
	bool ok;
	int fd;

	fd = ms_elf_open_file(path, &st);
	if (fd < 0)
		return -1;
	ok = !(main_st && st.st_dev == main_st->st_dev && st.st_ino == main_st->st_ino) &&
	     !ms_elf_check_headers(fd);
	/* read, not mapped: a file its owner truncates now fails a read, it cannot fault */
	elf = ok ? elf_begin(fd, ELF_C_READ, NULL) : NULL;
	ok = elf && elf_kind(elf) == ELF_K_ELF &&
	     !ms_elf_within_bounds(elf, st.st_size, MS_ELFB_INFLATE);
	if (ok && bidlen > 0)
		ok = dwelf_elf_gnu_build_id(elf, &id) == bidlen && !memcmp(id, bid, bidlen);
	else if (ok && check)
		ok = file_crc(fd, st.st_size, &sum) && sum == crc;
	elf_end(elf);
	if (!ok) {
		close(fd);
		return -1;
	}
	return fd;
}

/* dir/.build-id/xx/yyyy.debug for each absolute directory of path, for build-id bid */
static int by_build_id(const char *path, const unsigned char *bid, int bidlen, char **found)
{
	char *copy = strdup(path), *dir, *save = NULL, hex[2 * KEY_BYTES + 2], name[4096];
	int i, fd = -1;

	if (!copy || bidlen < 2)
		goto out;
	for (i = 0; i < bidlen && i < KEY_BYTES; i++)
		sprintf(hex + 2 * i, "%02x", bid[i]);
	for (dir = strtok_r(copy, ":", &save); dir && fd < 0; dir = strtok_r(NULL, ":", &save)) {
		if (dir[0] == '+' || dir[0] == '-')
			dir++;
		if (dir[0] != '/')
			continue;
		snprintf(name, sizeof(name), "%s/.build-id/%.2s/%s.debug", dir, hex, hex + 2);
		fd = debug_candidate(name, NULL, bid, bidlen, false, 0);
		if (fd >= 0)
			*found = strdup(name);
	}
out:
	free(copy);
	return fd;
}

/* The debuglink file link by name: in the object's directory, its subdirectories named
 * by relative elements of path, and under absolute ones (D/DIR/link, then D/link) */
static int by_debuglink(const char *path, const char *file_name, const char *link,
			const unsigned char *bid, int bidlen, GElf_Word crc, char **found)
{
	char *copy = strdup(path), *el, *rest, dir[4096], name[8192];
	const char *slash = strrchr(file_name, '/');
	struct stat main_st;
	bool defcheck = true, check;
	int fd = -1, k;

	if (!copy || !slash || strchr(link, '/'))
		goto out;
	snprintf(dir, sizeof(dir), "%.*s", (int)(slash - file_name), file_name);
	if (stat(file_name, &main_st))
		memset(&main_st, 0, sizeof(main_st));
	rest = copy;
	if (rest[0] == '+' || rest[0] == '-')
		defcheck = *rest++ == '+';
	/* strsep: an empty element is the object's own directory */
	while (fd < 0 && (el = strsep(&rest, ":"))) {
		check = defcheck;
		if (el[0] == '+' || el[0] == '-')
			check = *el++ == '+';
		for (k = 0; k < 2 && fd < 0; k++) {
			if (el[0] != '/' && k)
				break;
			if (el[0] == '\0')
				snprintf(name, sizeof(name), "%s/%s", dir, link);
			else if (el[0] != '/')
				snprintf(name, sizeof(name), "%s/%s/%s", dir, el, link);
			else if (!k && dir[0] == '/')
				snprintf(name, sizeof(name), "%s%s/%s", el, dir, link);
			else
				snprintf(name, sizeof(name), "%s/%s", el, link);
			fd = debug_candidate(name, &main_st, bid, bidlen, check, crc);
			if (fd >= 0)
				*found = strdup(name);
		}
	}
out:
	free(copy);
	return fd;
}

/* Whether libdw takes the file at fd as DWARF (so that libdwfl gives it to the module) */
static bool dwarf_opens(int fd)
{
	int dup = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	Dwarf *dw = dup >= 0 ? dwarf_begin(dup, DWARF_C_READ) : NULL;

	if (dw)
		dwarf_end(dw);
	if (dup >= 0)
		close(dup);
	return dw != NULL;
}

/*
 * libdwfl's find_debuginfo callback, the search of dwfl_standard_find_debuginfo (build-id,
 * then .gnu_debuglink) over the module's debug path, with every candidate opened without
 * blocking and checked (debug_candidate): libdwfl's own opens are plain blocking open()s,
 * and under /proc/PID/root the directories are the traced process'. For a dwz file
 * (.gnu_debugaltlink, asked with no CRC), its build-id under the debug path alone.
 */
static int find_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname, GElf_Addr base,
			  const char *file_name, const char *debuglink_file,
			  GElf_Word debuglink_crc, char **debuginfo_file_name)
{
	struct module *m = *userdata;
	const unsigned char *bid = NULL;
	const void *alt_id = NULL;
	const char *altname;
	GElf_Addr vaddr;
	Dwarf_Addr bias;
	Dwarf *dw;
	int bidlen, fd;

	errno = 0;
	if (!m)
		return -1;
	bidlen = dwfl_module_build_id(mod, &bid, &vaddr);
	if (debuglink_file && !debuglink_crc && (dw = dwfl_module_getdwarf(mod, &bias))) {
		bidlen = dwelf_dwarf_gnu_debugaltlink(dw, &altname, &alt_id);
		fd = bidlen > 0 ? by_build_id(m->own_path, alt_id, bidlen, debuginfo_file_name) :
				  -1;
		m->alt_found = fd >= 0 && dwarf_opens(fd);
		if (fd >= 0 && !m->alt_found) {
			close(fd);
			free(*debuginfo_file_name);
			*debuginfo_file_name = NULL;
			fd = -1;
		}
		errno = 0;
		return fd;
	}
	fd = bidlen > 0 ? by_build_id(m->debug_path, bid, bidlen, debuginfo_file_name) : -1;
	if (fd < 0 && debuglink_file && file_name)
		fd = by_debuglink(m->debug_path, file_name, debuglink_file, bid, bidlen,
				  debuglink_crc, debuginfo_file_name);
	/* libdwfl does not free the name when it then rejects the file (a corrupt one):
	 * nothing here needs it (the dwz file is looked up by build-id above) */
	free(*debuginfo_file_name);
	*debuginfo_file_name = NULL;
	errno = 0;
	return fd;
}

/* Loads the object open at fd/elf (identified by k) into a Dwfl of its own */
static int module_load(struct ms_symbolizer *s, const char *path, int fd, Elf *elf,
		       const struct objkey *k, struct module **out)
{
	struct module *m = calloc(1, sizeof(*m));
	const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	int err, dfd;

	if (!m)
		return -ENOMEM;
	s->loading = m;
	m->key = *k;
	m->dwarf_ok = -1;
	err = read_segments(elf, m);
	if (err)
		goto fail;
	err = -ENOMEM;
	m->debug_path = module_debug_path(s, path);
	m->own_path = strdup(s->debug_path ? s->debug_path : "-:.debug:/usr/lib/debug");
	if (!m->debug_path || !m->own_path)
		goto fail;
	m->cb.find_elf = dwfl_build_id_find_elf;
	m->cb.find_debuginfo = find_debuginfo;
	m->cb.section_address = dwfl_offline_section_address;
	m->cb.debuginfo_path = &m->own_path;
	m->dwfl = dwfl_begin(&m->cb);
	if (!m->dwfl)
		goto fail;
	dwfl_report_begin(m->dwfl);
	/* the Dwfl owns the duplicate once the module is reported; at bias 0 the module's
	 * addresses are the ELF virtual addresses */
	dfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (dfd < 0) {
		err = -errno;
		goto fail;
	}
	m->mod = dwfl_report_elf(m->dwfl, name, path, dfd, 0, true);
	if (!m->mod) {
		close(dfd);
		err = -ENOEXEC;
		goto fail;
	}
	/* find_debuginfo's userdata: this module */
	{
		void **ud = NULL;

		dwfl_module_info(m->mod, &ud, NULL, NULL, NULL, NULL, NULL, NULL);
		if (ud)
			*ud = m;
	}
	if (dwfl_report_end(m->dwfl, NULL, NULL)) {
		err = -ENOEXEC;
		goto fail;
	}
	while (s->nmods >= s->modules_max && s->mods.prev != &s->mods) {
		module_drop(s, s->mods.prev);
		s->st.modules_evicted++;
	}
	LRU_PUSH_FRONT(&s->mods, m);
	s->loading = NULL;
	s->nmods++;
	s->st.modules_loaded++;
	*out = m;
	return 0;
fail:
	s->loading = NULL;
	module_free(m);
	return err;
}

/* The source file of line: src, under its compilation directory when relative (as
 * addr2line prints it) */
static void source_path(Dwfl_Line *line, const char *src, char *buf, size_t len)
{
	const char *dir = src[0] != '/' ? dwfl_line_comp_dir(line) : NULL;
	size_t n;

	if (!dir || !dir[0]) {
		copy_str(buf, len, src);
		return;
	}
	copy_str(buf, len, dir);
	n = strlen(buf);
	if (n && buf[n - 1] != '/' && n + 1 < len)
		buf[n++] = '/';
	copy_str(buf + n, len - n, src);
}

/* The call site of inlined subroutine die: its DW_AT_call_file and DW_AT_call_line */
static bool call_site(Dwarf_Die *cu, Dwarf_Die *die, const char **file, int *line)
{
	Dwarf_Attribute at;
	Dwarf_Word call_line, call_file;
	Dwarf_Files *files;
	size_t nfiles;

	if (dwarf_formudata(dwarf_attr(die, DW_AT_call_line, &at), &call_line) ||
	    dwarf_formudata(dwarf_attr(die, DW_AT_call_file, &at), &call_file) ||
	    dwarf_getsrcfiles(cu, &files, &nfiles) || call_file >= nfiles || call_line == 0 ||
	    call_line > INT_MAX)
		return false;
	*file = dwarf_filesrc(files, call_file, NULL, NULL);
	*line = (int)call_line;
	return *file != NULL;
}

/* The name of inlined subroutine die, from its abstract origin: demangled */
static void inlined_name(Dwarf_Die *die, char *buf, size_t len)
{
	Dwarf_Attribute at;
	const char *s;

	s = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_linkage_name, &at));
	if (!s)
		s = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &at));
	if (!s)
		s = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_name, &at));
	ms_demangle(s ? s : "??", buf, len);
}

/* Appends "function (file:line)\n" to buf (of len, n used) when it fits whole */
static void inlined_add(char *buf, size_t len, const char *function, const char *file, int line)
{
	size_t n = strlen(buf);
	int w;

	if (file && line > 0)
		w = snprintf(buf + n, len - n, "%s (%s:%d)\n", function, file, line);
	else
		w = snprintf(buf + n, len - n, "%s\n", function);
	if (w < 0 || (size_t)w >= len - n)
		buf[n] = '\0'; /* the chain stops at what fits */
}

/*
 * When addr lies in code inlined into the function (Box::new inside make_leak), the
 * inlined calls become frames of their own, innermost first: each inlined function with
 * the line it was at (the address' own line for the innermost, the call site of the one
 * inside it for the others); the function itself then shows the line of the outermost
 * inlined call, its DW_AT_call_file and DW_AT_call_line.
 */
static void inlined_calls(struct module *m, uint64_t addr, struct ms_frame_info *out)
{
	Dwarf_Addr bias = 0;
	Dwarf_Die *cu = dwfl_module_addrdie(m->mod, addr, &bias), *scopes = NULL, inner;
	const char *file = out->file[0] ? out->file : NULL;
	int line = out->line, n, k;
	char fn[512];

	out->inlined[0] = '\0';
	if (!cu)
		return;
	/* the innermost scope at addr, then the scopes that hold it in the DIE tree (concrete
	 * inlined instances; dwarf_getscopes goes on into the abstract origin's instead) */
	n = dwarf_getscopes(cu, addr - bias, &scopes);
	if (n <= 0) {
		free(scopes);
		return;
	}
	inner = scopes[0];
	free(scopes);
	scopes = NULL;
	n = dwarf_getscopes_die(&inner, &scopes);
	for (k = 0; k < n; k++) {
		const char *call_file;
		int call_line;

		if (dwarf_tag(&scopes[k]) != DW_TAG_inlined_subroutine)
			continue;
		inlined_name(&scopes[k], fn, sizeof(fn));
		inlined_add(out->inlined, sizeof(out->inlined), fn, file, line);
		if (call_site(cu, &scopes[k], &call_file, &call_line)) {
			file = call_file;
			line = call_line;
		} else {
			file = NULL;
			line = 0;
		}
	}
	if (out->inlined[0]) {
		copy_str(out->file, sizeof(out->file), file ? file : "");
		out->line = file ? line : 0;
	}
	free(scopes);
}

/*
 * Whether m's DWARF can be read without libdw opening files by itself with plain blocking
 * open()s at paths the traced program's DWARF names: the .dwo of a split unit (its
 * skeleton's DW_AT_dwo_name), or a dwz file find_debuginfo did not give it. A module whose
 * DWARF has skeleton units, or names a dwz file not found, is resolved from its symbols
 * alone (no lines). Asked once per module: a walk over its unit headers.
 */
static bool dwarf_safe(struct module *m)
{
	const void *alt_id;
	const char *altname;
	Dwarf_CU *cu = NULL;
	Dwarf_Addr bias;
	uint8_t type;
	Dwarf *dw;

	if (m->dwarf_ok >= 0)
		return m->dwarf_ok;
	m->dwarf_ok = 0;
	dw = dwfl_module_getdwarf(m->mod, &bias);
	if (!dw || (dwelf_dwarf_gnu_debugaltlink(dw, &altname, &alt_id) > 0 && !m->alt_found))
		return false;
	while (!dwarf_get_units(dw, cu, &cu, NULL, &type, NULL, NULL))
		if (type == DW_UT_skeleton)
			return false;
	m->dwarf_ok = 1;
	return true;
}

/* The answer for file_off in module m */
static void module_resolve(struct module *m, uint64_t file_off, struct ms_frame_info *out)
{
	GElf_Off into = 0;
	GElf_Sym sym;
	const char *name, *src;
	Dwfl_Line *line;
	uint64_t addr = 0;
	bool found = false;
	size_t i;
	int lineno = 0;

	out->function[0] = '\0';
	out->file[0] = '\0';
	out->line = 0;
	out->offset = file_off;
	for (i = 0; i < m->nsegs && !found; i++) {
		if (file_off >= m->segs[i].off && file_off - m->segs[i].off < m->segs[i].filesz) {
			addr = m->segs[i].vaddr + (file_off - m->segs[i].off);
			found = true;
		}
	}
	if (!found)
		return;
	name = dwfl_module_addrinfo(m->mod, addr, &into, &sym, NULL, NULL, NULL);
	if (name && name[0]) {
		ms_demangle(name, out->function, sizeof(out->function));
		out->offset = into;
	}
	if (!dwarf_safe(m))
		return;
	line = dwfl_module_getsrc(m->mod, addr);
	if (line && (src = dwfl_lineinfo(line, NULL, &lineno, NULL, NULL, NULL)) && lineno > 0) {
		source_path(line, src, out->file, sizeof(out->file));
		out->line = lineno;
	}
	inlined_calls(m, addr, out);
}

/* ---- opening objects ---- */

/* Whether the program and section header tables lie inside a file of size bytes: a
 * truncated copy loses its section headers (at the end) first */
static bool headers_inside(const GElf_Ehdr *eh, uint64_t size)
{
	uint64_t ph = (uint64_t)eh->e_phnum * eh->e_phentsize;
	uint64_t sh = (uint64_t)(eh->e_shnum ? eh->e_shnum : 1) * eh->e_shentsize;

	if (eh->e_phoff > size || ph > size - eh->e_phoff)
		return false;
	return !eh->e_shoff || (eh->e_shoff <= size && sh <= size - eh->e_shoff);
}

/* Opens path as an ELF executable or shared object: fd, elf and its identity st */
static int object_open(struct ms_symbolizer *s, const char *path, int *fdp, Elf **elfp,
		       struct stat *st)
{
	GElf_Ehdr eh;
	Elf *elf;
	int fd, err;

	/* a regular file, resolved once and opened without blocking (never a FIFO) */
	fd = ms_elf_open_file(path, st);
	if (fd < 0)
		return fd;
	s->st.file_opens++;
	err = ms_elf_check_headers(fd);
	if (err) {
		close(fd);
		return err;
	}
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &eh) ||
	    (eh.e_type != ET_EXEC && eh.e_type != ET_DYN) || !headers_inside(&eh, st->st_size)) {
		elf_end(elf);
		close(fd);
		return -ENOEXEC;
	}
	/* what libelf and libdw would read: symbol tables, inflated debug sections */
	err = ms_elf_within_bounds(elf, st->st_size, MS_ELFB_INFLATE);
	if (err) {
		elf_end(elf);
		close(fd);
		return err;
	}
	*fdp = fd;
	*elfp = elf;
	return 0;
}

static void object_key(Elf *elf, const struct stat *st, struct objkey *k)
{
	const void *id = NULL;
	ssize_t n = dwelf_elf_gnu_build_id(elf, &id);
	uint64_t v[4] = { st->st_dev, st->st_ino, st->st_size, mtime_ns(st) };

	memset(k, 0, sizeof(*k));
	if (n > 0 && id) {
		k->kind = KEY_BUILD_ID;
		k->len = n < KEY_BYTES ? n : KEY_BYTES;
		memcpy(k->b, id, k->len);
	} else {
		k->kind = KEY_FILE;
		k->len = sizeof(v);
		memcpy(k->b, v, sizeof(v));
	}
}

static void object_name(const char *path, char *buf, size_t len)
{
	char target[4096];
	const char *base;
	ssize_t n;

	/* /proc/PID/map_files/START-END and /proc/PID/exe: the name is the link's target */
	base = strrchr(path, '/');
	if (!strncmp(path, "/proc/", 6) &&
	    (strstr(path, "/map_files/") || (base && !strcmp(base, "/exe"))) &&
	    (n = readlink(path, target, sizeof(target) - 1)) > 0) {
		target[n] = '\0';
		if (n > 10 && !strcmp(target + n - 10, " (deleted)"))
			target[n - 10] = '\0';
		path = target;
	}
	base = strrchr(path, '/');
	copy_str(buf, len, base ? base + 1 : path);
}

/* ---- faults ---- */

/*
 * libdw maps the files it reads (the object, its debug file). Their owner can truncate one
 * under it, and reading the mapping past the new end raises SIGBUS: a root tracer must not
 * die of what a traced user does to their own files. While libdw works for this thread
 * the handler jumps back to module_answer, which drops the module (its Dwfl) and fails
 * the address; out of it, the fault is not ours and the previous handler takes it.
 */
static __thread sigjmp_buf *fault_jmp;
static struct sigaction fault_prev;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	if (fault_jmp)
		siglongjmp(*fault_jmp, 1);
	/* not ours: the access runs again on return, and faults under the old handler */
	sigaction(sig, &fault_prev, NULL);
	(void)si;
	(void)uc;
}

static void fault_guard_install(void)
{
	static bool done;
	struct sigaction sa = { .sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO };

	if (done)
		return;
	done = true;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &fault_prev);
}

/* ---- the API ---- */

struct ms_symbolizer *ms_symbolizer_new(void)
{
	struct ms_symbolizer *s;

	if (elf_version(EV_CURRENT) == EV_NONE) {
		errno = ENOSYS;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->addr_max = MS_SYM_ADDR_MAX;
	s->addr_bytes_max = MS_SYM_ADDR_BYTES;
	s->modules_max = MS_SYM_MODULES_MAX;
	s->files_max = MS_SYM_FILES_MAX;
	s->lru.prev = s->lru.next = &s->lru;
	s->mods.prev = s->mods.next = &s->mods;
	fault_guard_install();
	s->files = calloc(2 * s->files_max, sizeof(*s->files));
	if (!s->files || addr_buckets(s, s->addr_max)) {
		ms_symbolizer_free(s);
		errno = ENOMEM;
		return NULL;
	}
	return s;
}

void ms_symbolizer_free(struct ms_symbolizer *s)
{
	if (!s)
		return;
	if (s->buckets)
		addr_clear(s);
	while (s->mods.next && s->mods.next != &s->mods)
		module_drop(s, s->mods.next);
	free(s->buckets);
	free(s->files);
	free(s->debug_path);
	free(s);
}

int ms_symbolizer_set_debug_path(struct ms_symbolizer *s, const char *path)
{
	char *p = NULL;

	if (path && !(p = strdup(path)))
		return -ENOMEM;
	free(s->debug_path);
	s->debug_path = p;
	return 0;
}

int ms_symbolizer_set_limits(struct ms_symbolizer *s, size_t addr_max, size_t modules_max)
{
	int err;

	addr_max = addr_max ? addr_max : MS_SYM_ADDR_MAX;
	err = addr_buckets(s, addr_max);
	if (err)
		return err;
	s->addr_max = addr_max;
	s->modules_max = modules_max ? modules_max : MS_SYM_MODULES_MAX;
	while (s->nmods > s->modules_max) {
		module_drop(s, s->mods.prev);
		s->st.modules_evicted++;
	}
	return 0;
}

/* The answer for file_off from the module of k: cached, or loaded now from fd/elf when
 * cached is NULL. -EIO when a file under libdw shrank (the module is dropped: the next
 * answer loads it again, from what the files are then). */
static int module_answer(struct ms_symbolizer *s, const char *name, int fd, Elf *elf,
			 const struct objkey *k, struct module *cached, uint64_t file_off,
			 struct ms_frame_info *out)
{
	struct module *volatile used = cached;
	volatile int err = 0;
	sigjmp_buf jb;

	if (sigsetjmp(jb, 1)) {
		fault_jmp = NULL;
		if (!s->st.faults++)
			fprintf(stderr,
				"memscope-bpf: %s: a file read for its names and lines shrank while "
				"mapped (SIGBUS caught); its frames are named from what it is now\n",
				name);
		if (s->loading) {
			module_free(s->loading);
			s->loading = NULL;
		} else if (used) {
			module_drop(s, used);
		}
		return -EIO;
	}
	fault_jmp = &jb;
	if (!used) {
		struct module *m = NULL;

		err = module_load(s, name, fd, elf, k, &m);
		used = err ? NULL : m;
	}
	if (used)
		module_resolve(used, file_off, out);
	fault_jmp = NULL;
	return err;
}

/* resolve for the object opened at path, named (debug files, the Dwfl) as name */
static int resolve(struct ms_symbolizer *s, const char *path, const char *name, uint64_t file_off,
		   struct ms_frame_info *out)
{
	struct file_ent *f;
	struct addr_ent *e;
	struct module *m;
	struct objkey k;
	struct stat st;
	Elf *elf = NULL;
	int fd = -1, err = 0;

	if (stat(path, &st))
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -ENOEXEC;
	f = file_lookup(s, &st);
	if (!f) {
		/* a file not seen: its build-id, read once per identity */
		err = object_open(s, path, &fd, &elf, &st);
		if ((err == -ENOEXEC || err == -EFBIG) && (f = file_insert(s, &st)))
			f->err = err;
		if (err == -EFBIG && f)
			fprintf(stderr,
				"memscope-bpf: %s: not read for names and lines: past the bound of "
				"one object (%u MiB of symbol tables, %u symbols, %u MiB inflated)\n",
				name, MS_ELF_TABLE_BYTES_MAX >> 20, MS_ELF_SYMS_MAX,
				MS_ELF_INFLATE_MAX >> 20);
		if (err)
			return err;
		f = file_insert(s, &st);
		object_key(elf, &st, &f->key);
	}
	if (f->err)
		return f->err;
	k = f->key;
	e = addr_lookup(s, &k, file_off);
	if (e) {
		s->st.addr_hits++;
		memcpy(out->function, e->str, e->func_len + 1);
		memcpy(out->file, e->str + e->func_len + 1, e->file_len + 1);
		memcpy(out->inlined, e->str + e->func_len + e->file_len + 2, e->inl_len + 1);
		out->offset = e->offset;
		out->line = e->line;
		goto out;
	}
	m = module_lookup(s, &k);
	if (!m) {
		if (fd < 0) {
			struct objkey now;

			/* the module was dropped since: reload it, from this very file */
			err = object_open(s, path, &fd, &elf, &st);
			if (err)
				goto out;
			object_key(elf, &st, &now);
			if (!key_eq(&now, &k)) {
				err = -ESTALE;
				goto out;
			}
		}
	}
	err = module_answer(s, name, fd, elf, &k, m, file_off, out);
	if (err) {
		if (err == -ENOEXEC)
			f->err = err;
		goto out;
	}
	addr_insert(s, &k, file_off, out);
out:
	if (elf)
		elf_end(elf);
	if (fd >= 0)
		close(fd);
	return err;
}

int ms_symbolizer_resolve_as(struct ms_symbolizer *s, const char *path, const char *name,
			     uint64_t file_off, struct ms_frame_info *out)
{
	int err;

	if (!s || !path || !name || !out)
		return -EINVAL;
	s->st.resolves++;
	memset(out, 0, sizeof(*out));
	object_name(name, out->object, sizeof(out->object));
	err = resolve(s, path, name, file_off, out);
	if (err) {
		s->st.errors++;
		out->function[0] = '\0';
		out->file[0] = '\0';
		out->line = 0;
		out->offset = file_off;
	}
	return err;
}

static void frame_format(const struct ms_frame_info *f, bool with_line, bool full, char *buf,
			 size_t len)
{
	const char *base;
	int n;

	if (!len)
		return;
	if (f->function[0] && f->offset)
		n = snprintf(buf, len, "%s+0x%" PRIx64, f->function, f->offset);
	else if (f->function[0])
		n = snprintf(buf, len, "%s", f->function);
	else if (f->object[0])
		n = snprintf(buf, len, "%s+0x%" PRIx64, f->object, f->offset);
	else
		n = snprintf(buf, len, "[unknown]");
	if (!with_line || !f->file[0] || f->line <= 0 || n < 0 || (size_t)n >= len)
		return;
	base = full ? NULL : strrchr(f->file, '/');
	snprintf(buf + n, len - n, " (%s:%d)", base ? base + 1 : f->file, f->line);
}

void ms_frame_parse(const char *frame, struct ms_frame_parts *p)
{
	size_t n = strlen(frame), x, hex;
	const char *open, *colon;

	*p = (struct ms_frame_parts){ .fn_len = n, .where = n };
	/* " (file:line)" at the end */
	if (n && frame[n - 1] == ')') {
		open = strrchr(frame, '(');
		colon = open ? strrchr(open, ':') : NULL;
		if (open && open > frame + 1 && open[-1] == ' ' && colon && colon[1] >= '0' &&
		    colon[1] <= '9') {
			p->fn_len = p->where = open - 1 - frame;
			p->file_at = open + 1 - frame;
			p->file_len = colon - open - 1;
			p->line = strtoll(colon + 1, NULL, 10);
		}
	}
	/* "+0x1c" after the function (or the object), in the lowercase hex it is written in */
	for (x = p->fn_len, hex = 0; x > 0 && ((frame[x - 1] >= '0' && frame[x - 1] <= '9') ||
					       (frame[x - 1] >= 'a' && frame[x - 1] <= 'f'));
	     x--)
		hex++;
	if (hex && x >= 3 && frame[x - 1] == 'x' && frame[x - 2] == '0' && frame[x - 3] == '+')
		p->fn_len = x - 3;
}

void ms_frame_format(const struct ms_frame_info *f, bool with_line, char *buf, size_t len)
{
	frame_format(f, with_line, false, buf, len);
}

void ms_frame_format_path(const struct ms_frame_info *f, char *buf, size_t len)
{
	frame_format(f, true, true, buf, len);
}

void ms_inlined_base_names(const char *inlined, char *out, size_t len)
{
	const char *p = inlined, *nl, *open, *slash;
	size_t n = 0;
	int w;

	if (len)
		out[0] = '\0';
	for (; *p && (nl = strchr(p, '\n')); p = nl + 1) {
		/* "function (path:line)": the path's directory out */
		open = NULL;
		if (nl > p && nl[-1] == ')')
			for (open = nl - 1; open > p && *open != '('; open--)
				;
		slash = open && *open == '(' ? memrchr(open, '/', nl - open) : NULL;
		if (slash)
			w = snprintf(out + n, len - n, "%.*s%.*s\n", (int)(open + 1 - p), p,
				     (int)(nl - slash - 1), slash + 1);
		else
			w = snprintf(out + n, len - n, "%.*s\n", (int)(nl - p), p);
		if (w < 0 || (size_t)w >= len - n) {
			out[n] = '\0'; /* the chain stops at what fits */
			return;
		}
		n += w;
	}
}

void ms_symbolizer_stats(const struct ms_symbolizer *s, struct ms_symbolizer_stats *out)
{
	*out = s->st;
	out->addr_cached = s->naddrs;
	out->modules_cached = s->nmods;
}
