/* elfsym.c: function symbol lookup with libelf */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <string.h>
#include <unistd.h>
#include "elfsym.h"

static int elf_open(const char *path, int *fd, Elf **elf)
{
	if (elf_version(EV_CURRENT) == EV_NONE)
		return -EINVAL;
	*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0)
		return -errno;
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

/* __cxa_demangle from the C++ runtime: C++ names without a C++ compiler */
char *__cxa_demangle(const char *mangled, char *buf, size_t *len, int *status);

bool ms_elf_demangled_match(const char *sym, const char *name)
{
	size_t n = strlen(name);
	int status = 0;
	char *d;
	bool ok;

	if (strncmp(sym, "_Z", 2))
		return false;
	d = __cxa_demangle(sym, NULL, NULL, &status);
	if (!d || status)
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

	if (!data || !sh->sh_entsize)
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
	err = elf_open(path, &fd, &elf);
	if (err) {
		free(ix.next);
		return err;
	}
	/* .dynsym first: the names other objects bind to */
	for (pass = 0; pass < 2; pass++) {
		scn = NULL;
		while ((scn = elf_nextscn(elf, scn))) {
			if (!gelf_getshdr(scn, &sh))
				continue;
			if (sh.sh_type != (pass == 0 ? SHT_DYNSYM : SHT_SYMTAB))
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
	uint64_t addr, best = 0;
	bool found = false;
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	GElf_Sym sym;
	Elf *elf;
	int fd, err;

	err = elf_open(path, &fd, &elf);
	if (err)
		return err;
	err = off_to_addr(elf, off, &addr);
	while (!err && (scn = elf_nextscn(elf, scn))) {
		Elf_Data *data;
		size_t i, count;

		if (!gelf_getshdr(scn, &sh) ||
		    (sh.sh_type != SHT_SYMTAB && sh.sh_type != SHT_DYNSYM) || !sh.sh_entsize ||
		    !(data = elf_getdata(scn, NULL)))
			continue;
		count = sh.sh_size / sh.sh_entsize;
		for (i = 0; i < count; i++) {
			const char *s;

			if (!gelf_getsym(data, i, &sym) || GELF_ST_TYPE(sym.st_info) != STT_FUNC ||
			    sym.st_shndx == SHN_UNDEF || addr < sym.st_value ||
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
	Elf *elf;
	ssize_t got;
	int fd, err;

	err = elf_open(path, &fd, &elf);
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
