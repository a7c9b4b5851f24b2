/* elfsym.c: function symbol lookup with libelf */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <lzma.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <libiberty/demangle.h>
#include "elfsym.h"
#include "safepath.h"

int ms_elf_pin_file(const char *path, struct stat *st)
{
	return ms_path_pin(path, st);
}

int ms_elf_open_file(const char *path, struct stat *st)
{
	char self[64];
	int pin, fd, err;

	pin = ms_elf_pin_file(path, st);
	if (pin < 0)
		return pin;
	snprintf(self, sizeof(self), "/proc/self/fd/%d", pin);
	fd = open(self, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	err = -errno;
	close(pin);
	return fd < 0 ? err : fd;
}

/* An unsigned field of n bytes at p, in the file's byte order */
static uint64_t field(const unsigned char *p, unsigned n, bool big)
{
	uint64_t v = 0;
	unsigned i;

	for (i = 0; i < n; i++)
		v = big ? v << 8 | p[i] : v | (uint64_t)p[i] << (8 * i);
	return v;
}

int ms_elf_check_headers(int fd)
{
	unsigned char eh[64], sh0[64];
	uint64_t shoff, shnum, phnum;
	size_t shsz;
	bool is64, big;

	if (pread(fd, eh, sizeof(eh), 0) < 52 || memcmp(eh, ELFMAG, SELFMAG))
		return -ENOEXEC;
	is64 = eh[EI_CLASS] == ELFCLASS64;
	big = eh[EI_DATA] == ELFDATA2MSB;
	if (!is64 && eh[EI_CLASS] != ELFCLASS32)
		return -ENOEXEC;
	shoff = is64 ? field(eh + 40, 8, big) : field(eh + 32, 4, big);
	phnum = field(eh + (is64 ? 56 : 44), 2, big);
	shnum = field(eh + (is64 ? 60 : 48), 2, big);
	shsz = is64 ? sizeof(Elf64_Shdr) : sizeof(Elf32_Shdr);
	/* extended numbering: the counts are section 0's sh_size and sh_info */
	if ((shnum == 0 || phnum == PN_XNUM) && shoff &&
	    pread(fd, sh0, shsz, shoff) == (ssize_t)shsz) {
		if (shnum == 0)
			shnum = is64 ? field(sh0 + 32, 8, big) : field(sh0 + 20, 4, big);
		if (phnum == PN_XNUM)
			phnum = field(sh0 + (is64 ? 44 : 28), 4, big);
	}
	return shnum > MS_ELF_HEADERS_MAX || phnum > MS_ELF_HEADERS_MAX ? -EFBIG : 0;
}

/* Opens path as an ELF file (*size: its size), without blocking and within the header
 * bounds */
static int elf_open(const char *path, int *fd, Elf **elf, uint64_t *size)
{
	struct stat st;
	int err;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return -EINVAL;
	*fd = ms_elf_open_file(path, &st);
	if (*fd < 0)
		return *fd;
	*size = st.st_size;
	err = ms_elf_check_headers(*fd);
	if (err) {
		close(*fd);
		return err;
	}
	/* read, not mapped: a file its owner truncates meanwhile must give an error, not
	 * a SIGBUS in the tracer */
	*elf = elf_begin(*fd, ELF_C_READ, NULL);
	if (!*elf || elf_kind(*elf) != ELF_K_ELF) {
		if (*elf)
			elf_end(*elf);
		close(*fd);
		return -ENOEXEC;
	}
	return 0;
}

static void elf_close(int fd, Elf *elf)
{
	elf_end(elf);
	close(fd);
}

/* Whether [off, off + len) lies inside a file of size bytes */
static bool inside(uint64_t off, uint64_t len, uint64_t size)
{
	return off <= size && len <= size - off;
}

/*
 * Whether section sh is a symbol table the scans read: inside the file, entries of the
 * class' size, not compressed, linked to a string table inside the file (*strsz: its
 * size). Tables that are not are skipped, and cost nothing.
 */
static bool symtab_usable(Elf *elf, const GElf_Shdr *sh, uint64_t size, uint64_t *strsz)
{
	GElf_Shdr str;
	Elf_Scn *s;

	if ((sh->sh_type != SHT_SYMTAB && sh->sh_type != SHT_DYNSYM) ||
	    (sh->sh_flags & SHF_COMPRESSED) ||
	    sh->sh_entsize != gelf_fsize(elf, ELF_T_SYM, 1, EV_CURRENT) ||
	    !inside(sh->sh_offset, sh->sh_size, size))
		return false;
	s = elf_getscn(elf, sh->sh_link);
	if (!s || !gelf_getshdr(s, &str) || str.sh_type != SHT_STRTAB ||
	    (str.sh_flags & SHF_COMPRESSED) || !inside(str.sh_offset, str.sh_size, size))
		return false;
	*strsz = str.sh_size;
	return true;
}

/*
 * What the xz stream of a .gnu_debugdata section (MiniDebugInfo: a symbol table libdwfl
 * unpacks when the object has none) unpacks to, counted by unpacking it into a scratch
 * buffer and stopping past MS_ELF_INFLATE_MAX: the stream's index could lie, and libdwfl
 * unpacks it all without a bound. A stream that needs more than XZ_MEMLIMIT to unpack (its
 * dictionary), or that is corrupt, counts as over the bound.
 */
#define XZ_MEMLIMIT (64u << 20)
static uint64_t xz_size(const void *buf, size_t len)
{
	static uint8_t scratch[65536];
	lzma_stream z = LZMA_STREAM_INIT;
	uint64_t total = UINT64_MAX;
	lzma_ret r;

	if (lzma_stream_decoder(&z, XZ_MEMLIMIT, LZMA_CONCATENATED) != LZMA_OK)
		return UINT64_MAX;
	z.next_in = buf;
	z.avail_in = len;
	do {
		z.next_out = scratch;
		z.avail_out = sizeof(scratch);
		r = lzma_code(&z, z.avail_in ? LZMA_RUN : LZMA_FINISH);
	} while (r == LZMA_OK && z.total_out <= MS_ELF_INFLATE_MAX);
	if (r == LZMA_STREAM_END)
		total = z.total_out;
	lzma_end(&z);
	return total;
}

/* What compressed section scn (named name) inflates to: SHF_COMPRESSED's header,
 * .zdebug's "ZLIB" and a big-endian size, or .gnu_debugdata's xz stream unpacked; 0 when
 * it is not compressed */
static uint64_t inflated_size(Elf_Scn *scn, const GElf_Shdr *sh, const char *name)
{
	Elf_Data *d;
	GElf_Chdr ch;

	if (sh->sh_type == SHT_NOBITS)
		return 0;
	if (sh->sh_flags & SHF_COMPRESSED)
		return gelf_getchdr(scn, &ch) ? ch.ch_size : UINT64_MAX;
	if (name && !strcmp(name, ".gnu_debugdata")) {
		d = elf_rawdata(scn, NULL);
		return d && d->d_size ? xz_size(d->d_buf, d->d_size) : UINT64_MAX;
	}
	if (!name || strncmp(name, ".zdebug", 7))
		return 0;
	d = elf_rawdata(scn, NULL);
	if (!d || d->d_size < 12 || memcmp(d->d_buf, "ZLIB", 4))
		return 0;
	return field((const unsigned char *)d->d_buf + 4, 8, true);
}

int ms_elf_within_bounds(Elf *elf, uint64_t size, unsigned flags)
{
	uint64_t bytes = 0, syms = 0, inflate = 0, strsz, n;
	Elf_Scn *scn = NULL;
	size_t shstrndx = 0;
	GElf_Shdr sh;

	if ((flags & MS_ELFB_INFLATE) && elf_getshdrstrndx(elf, &shstrndx))
		shstrndx = 0;
	while ((scn = elf_nextscn(elf, scn))) {
		if (!gelf_getshdr(scn, &sh))
			continue;
		if (symtab_usable(elf, &sh, size, &strsz)) {
			bytes += sh.sh_size + strsz;
			syms += sh.sh_size / sh.sh_entsize;
		}
		if (flags & MS_ELFB_INFLATE) {
			n = inflated_size(scn, &sh,
					  shstrndx ? elf_strptr(elf, shstrndx, sh.sh_name) : NULL);
			inflate = n > UINT64_MAX - inflate ? UINT64_MAX : inflate + n;
		}
		if (bytes > MS_ELF_TABLE_BYTES_MAX || syms > MS_ELF_SYMS_MAX ||
		    inflate > MS_ELF_INFLATE_MAX)
			return -EFBIG;
	}
	return 0;
}

/* The file offset of virtual address addr, through the PT_LOAD that maps it */
static int addr_to_off(Elf *elf, uint64_t addr, uint64_t *off)
{
	size_t i, n;
	GElf_Phdr ph;

	if (elf_getphdrnum(elf, &n))
		return -ENOEXEC;
	for (i = 0; i < n; i++) {
		if (!gelf_getphdr(elf, i, &ph) || ph.p_type != PT_LOAD || !(ph.p_flags & PF_X))
			continue;
		if (addr >= ph.p_vaddr && addr < ph.p_vaddr + ph.p_memsz) {
			*off = addr - ph.p_vaddr + ph.p_offset;
			return 0;
		}
	}
	return -ENOENT;
}

bool ms_elf_demangled_match(const char *sym, const char *name)
{
	size_t n = strlen(name);
	char *d;
	bool ok;

	if (strncmp(sym, "_Z", 2))
		return false;
	/* libiberty's demangler, not the C++ runtime's __cxa_demangle: that one takes
	 * exponential time on some crafted names (the fuzzer's _ZssssCCC...: minutes, where
	 * libiberty refuses it at once) */
	d = cplus_demangle(sym, DMGL_PARAMS | DMGL_ANSI);
	if (!d)
		return false;
	/* the name, then its parameter list (or nothing, for a variable or alias) */
	ok = !strncmp(d, name, n) && (d[n] == '(' || d[n] == '\0');
	free(d);
	return ok;
}

bool ms_elf_rust_match(const char *sym, const char *name)
{
	size_t ls = strlen(sym), ln = strlen(name);
	char tail[300];
	int k;

	if (strncmp(sym, "_R", 2) || ln + 24 > sizeof(tail))
		return false;
	/* v0 identifiers: decimal length, '_' when the name starts with '_' or a digit */
	k = snprintf(tail, sizeof(tail), "%zu%s%s", ln,
		     name[0] == '_' || isdigit(name[0]) ? "_" : "", name);
	return (size_t)k < ls && !strcmp(sym + ls - k, tail) && !isdigit(sym[ls - k - 1]);
}

#define HASH_BITS 10

static unsigned hash_name(const char *s)
{
	unsigned h = 2166136261u;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h >> (32 - HASH_BITS);
}

struct name_index {
	int head[1 << HASH_BITS]; /* first query index of each bucket, -1 */
	int *next;
	bool special; /* some query needs demangling or Rust matching */
};

static void found_at(Elf *elf, const GElf_Sym *sym, struct ms_elf_func *o, size_t *found)
{
	if (o->found || addr_to_off(elf, sym->st_value, &o->file_off))
		return;
	o->found = true;
	o->addr = sym->st_value;
	o->size = sym->st_size;
	(*found)++;
}

static size_t scan_symtab(Elf *elf, Elf_Scn *scn, GElf_Shdr *sh, const struct ms_elf_query *q,
			  size_t n, const struct name_index *ix, struct ms_elf_func *out)
{
	Elf_Data *data = elf_getdata(scn, NULL);
	size_t i, k, count, found = 0;
	GElf_Sym sym;
	const char *name;
	int at;

	if (!data)
		return 0;
	count = sh->sh_size / sh->sh_entsize;
	for (i = 0; i < count; i++) {
		if (!gelf_getsym(data, i, &sym))
			break;
		if (GELF_ST_TYPE(sym.st_info) != STT_FUNC || sym.st_shndx == SHN_UNDEF ||
		    sym.st_value == 0)
			continue;
		name = elf_strptr(elf, sh->sh_link, sym.st_name);
		if (!name)
			continue;
		for (at = ix->head[hash_name(name)]; at >= 0; at = ix->next[at])
			if (!strcmp(name, q[at].name))
				found_at(elf, &sym, &out[at], &found);
		if (!ix->special || (name[0] != '_' || (name[1] != 'Z' && name[1] != 'R')))
			continue;
		for (k = 0; k < n; k++) {
			if (out[k].found)
				continue;
			if (((q[k].flags & MS_ELFQ_DEMANGLED) &&
			     ms_elf_demangled_match(name, q[k].name)) ||
			    ((q[k].flags & MS_ELFQ_RUST) && ms_elf_rust_match(name, q[k].name)))
				found_at(elf, &sym, &out[k], &found);
		}
	}
	return found;
}

int ms_elf_lookup_query(const char *path, const struct ms_elf_query *q, size_t n,
			struct ms_elf_func *out)
{
	struct name_index ix;
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	size_t k, found = 0;
	uint64_t size, strsz;
	Elf *elf;
	int fd, err, pass;

	memset(out, 0, n * sizeof(*out));
	memset(ix.head, 0xff, sizeof(ix.head));
	ix.special = false;
	ix.next = calloc(n ? n : 1, sizeof(*ix.next));
	if (!ix.next)
		return -ENOMEM;
	for (k = n; k-- > 0;) {
		unsigned h = hash_name(q[k].name);

		ix.next[k] = ix.head[h];
		ix.head[h] = k;
		ix.special |= !!(q[k].flags & (MS_ELFQ_DEMANGLED | MS_ELFQ_RUST));
	}
	err = elf_open(path, &fd, &elf, &size);
	if (err) {
		free(ix.next);
		return err;
	}
	err = ms_elf_within_bounds(elf, size, 0);
	if (err) {
		elf_close(fd, elf);
		free(ix.next);
		return err;
	}
	/* .dynsym first: the names other objects bind to */
	for (pass = 0; pass < 2; pass++) {
		scn = NULL;
		while ((scn = elf_nextscn(elf, scn))) {
			if (!gelf_getshdr(scn, &sh))
				continue;
			if (sh.sh_type != (pass == 0 ? SHT_DYNSYM : SHT_SYMTAB) ||
			    !symtab_usable(elf, &sh, size, &strsz))
				continue;
			found += scan_symtab(elf, scn, &sh, q, n, &ix, out);
		}
	}
	elf_close(fd, elf);
	free(ix.next);
	return found;
}

int ms_elf_lookup(const char *path, const char *const *names, size_t n, struct ms_elf_func *out)
{
	struct ms_elf_query *q = calloc(n ? n : 1, sizeof(*q));
	size_t k;
	int err;

	if (!q)
		return -ENOMEM;
	for (k = 0; k < n; k++)
		q[k].name = names[k];
	err = ms_elf_lookup_query(path, q, n, out);
	free(q);
	return err;
}

/* The virtual address of file offset off, through the PT_LOAD that holds it */
static int off_to_addr(Elf *elf, uint64_t off, uint64_t *addr)
{
	size_t i, n;
	GElf_Phdr ph;

	if (elf_getphdrnum(elf, &n))
		return -ENOEXEC;
	for (i = 0; i < n; i++) {
		if (!gelf_getphdr(elf, i, &ph) || ph.p_type != PT_LOAD)
			continue;
		if (off >= ph.p_offset && off < ph.p_offset + ph.p_filesz) {
			*addr = off - ph.p_offset + ph.p_vaddr;
			return 0;
		}
	}
	return -ENOENT;
}

int ms_elf_symbolize(const char *path, uint64_t off, char *name, size_t len, uint64_t *into)
{
	uint64_t addr, best = 0, size, strsz;
	bool found = false;
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	GElf_Sym sym;
	Elf *elf;
	int fd, err;

	err = elf_open(path, &fd, &elf, &size);
	if (err)
		return err;
	err = ms_elf_within_bounds(elf, size, 0);
	if (!err)
		err = off_to_addr(elf, off, &addr);
	while (!err && (scn = elf_nextscn(elf, scn))) {
		Elf_Data *data;
		size_t i, count;

		if (!gelf_getshdr(scn, &sh) || !symtab_usable(elf, &sh, size, &strsz) ||
		    !(data = elf_getdata(scn, NULL)))
			continue;
		count = sh.sh_size / sh.sh_entsize;
		for (i = 0; i < count; i++) {
			const char *s;

			if (!gelf_getsym(data, i, &sym))
				break;
			if (GELF_ST_TYPE(sym.st_info) != STT_FUNC || sym.st_shndx == SHN_UNDEF ||
			    addr < sym.st_value ||
			    addr >= sym.st_value + (sym.st_size ? sym.st_size : 1))
				continue;
			if (found && sym.st_value <= best)
				continue;
			s = elf_strptr(elf, sh.sh_link, sym.st_name);
			if (!s || !*s)
				continue;
			snprintf(name, len, "%s", s);
			best = sym.st_value;
			found = true;
		}
	}
	elf_close(fd, elf);
	if (err)
		return err;
	if (!found)
		return -ENOENT;
	if (into)
		*into = addr - best;
	return 0;
}

int ms_elf_interp(const char *path, char *buf, size_t len)
{
	size_t i, n;
	GElf_Phdr ph;
	uint64_t size;
	Elf *elf;
	ssize_t got;
	int fd, err;

	err = elf_open(path, &fd, &elf, &size);
	if (err)
		return err;
	err = -ENOENT;
	if (elf_getphdrnum(elf, &n)) {
		err = -ENOEXEC;
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (!gelf_getphdr(elf, i, &ph) || ph.p_type != PT_INTERP)
			continue;
		if (ph.p_filesz == 0 || ph.p_filesz > len) {
			err = -ENOEXEC;
			goto out;
		}
		/* only the path: the file is not read whole */
		got = pread(fd, buf, ph.p_filesz, ph.p_offset);
		if (got != (ssize_t)ph.p_filesz) {
			err = -ENOEXEC;
			goto out;
		}
		buf[ph.p_filesz - 1] = '\0';
		err = 0;
		break;
	}
out:
	elf_close(fd, elf);
	return err;
}

/* The file offset of virtual address addr, through the PT_LOAD whose file bytes hold it */
static int vaddr_to_off(Elf *elf, uint64_t addr, uint64_t *off)
{
	size_t i, n;
	GElf_Phdr ph;

	if (elf_getphdrnum(elf, &n))
		return -ENOEXEC;
	for (i = 0; i < n; i++) {
		if (!gelf_getphdr(elf, i, &ph) || ph.p_type != PT_LOAD)
			continue;
		if (addr >= ph.p_vaddr && addr - ph.p_vaddr < ph.p_filesz) {
			*off = addr - ph.p_vaddr + ph.p_offset;
			return 0;
		}
	}
	return -ENOEXEC;
}

/* String val of the table at file offset [str, str + strsz) into buf (len bytes) */
static int dyn_string(int fd, uint64_t str, uint64_t strsz, uint64_t val, char *buf, size_t len)
{
	ssize_t got;
	size_t n;

	if (val >= strsz)
		return -ENOEXEC;
	n = strsz - val < len ? strsz - val : len;
	got = pread(fd, buf, n, str + val);
	if (got <= 0)
		return -ENOEXEC;
	if (!memchr(buf, '\0', got))
		return (size_t)got == len ? -ENAMETOOLONG : -ENOEXEC;
	return 0;
}

int ms_elf_dynamic(const char *path, struct ms_elf_dynamic *out)
{
	uint64_t size, strtab = 0, strsz = 0, str;
	size_t i, n, ndyn = 0, k;
	Elf_Data *dyn = NULL;
	GElf_Ehdr eh;
	GElf_Phdr ph;
	GElf_Dyn d;
	Elf *elf;
	int fd, err;

	memset(out, 0, offsetof(struct ms_elf_dynamic, needed));
	err = elf_open(path, &fd, &elf, &size);
	if (err)
		return err;
	err = -ENOEXEC;
	if (!gelf_getehdr(elf, &eh) || elf_getphdrnum(elf, &n))
		goto out;
	out->elfclass = eh.e_ident[EI_CLASS];
	out->machine = eh.e_machine;
	for (i = 0; i < n; i++) {
		if (!gelf_getphdr(elf, i, &ph) || ph.p_type != PT_DYNAMIC)
			continue;
		if (!inside(ph.p_offset, ph.p_filesz, size))
			goto out;
		dyn = elf_getdata_rawchunk(elf, ph.p_offset, ph.p_filesz, ELF_T_DYN);
		if (!dyn)
			goto out;
		ndyn = ph.p_filesz / gelf_fsize(elf, ELF_T_DYN, 1, EV_CURRENT);
		break;
	}
	/* the string table first: the entries that name strings may come before it */
	for (k = 0; k < ndyn && gelf_getdyn(dyn, k, &d) && d.d_tag != DT_NULL; k++) {
		if (d.d_tag == DT_STRTAB)
			strtab = d.d_un.d_ptr;
		else if (d.d_tag == DT_STRSZ)
			strsz = d.d_un.d_val;
	}
	if (ndyn && (vaddr_to_off(elf, strtab, &str) || !inside(str, strsz, size)))
		goto out;
	err = 0;
	for (k = 0; k < ndyn && !err && gelf_getdyn(dyn, k, &d) && d.d_tag != DT_NULL; k++) {
		switch (d.d_tag) {
		case DT_NEEDED:
			if (out->nneeded == MS_ELF_NEEDED_MAX) {
				err = -E2BIG;
				break;
			}
			err = dyn_string(fd, str, strsz, d.d_un.d_val, out->needed[out->nneeded++],
					 MS_ELF_NAME_MAX);
			break;
		case DT_RPATH:
			out->has_rpath = true;
			err = dyn_string(fd, str, strsz, d.d_un.d_val, out->rpath,
					 sizeof(out->rpath));
			break;
		case DT_RUNPATH:
			out->has_runpath = true;
			err = dyn_string(fd, str, strsz, d.d_un.d_val, out->runpath,
					 sizeof(out->runpath));
			break;
		case DT_SONAME:
			err = dyn_string(fd, str, strsz, d.d_un.d_val, out->soname,
					 sizeof(out->soname));
			break;
		}
	}
out:
	elf_close(fd, elf);
	return err;
}
