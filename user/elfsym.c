/* elfsym.c: function symbol lookup with libelf */
#include <errno.h>
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
	*elf = elf_begin(*fd, ELF_C_READ_MMAP, NULL);
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

static int scan_symtab(Elf *elf, Elf_Scn *scn, GElf_Shdr *sh, const char *const *names, size_t n,
		       struct ms_elf_func *out)
{
	Elf_Data *data = elf_getdata(scn, NULL);
	size_t i, k, count, found = 0;
	GElf_Sym sym;
	const char *name;

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
		for (k = 0; k < n; k++) {
			if (out[k].found || strcmp(name, names[k]))
				continue;
			if (addr_to_off(elf, sym.st_value, &out[k].file_off))
				continue;
			out[k].found = true;
			out[k].addr = sym.st_value;
			out[k].size = sym.st_size;
			found++;
		}
	}
	return found;
}

int ms_elf_lookup(const char *path, const char *const *names, size_t n, struct ms_elf_func *out)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	Elf *elf;
	int fd, err, found = 0, pass;

	memset(out, 0, n * sizeof(*out));
	err = elf_open(path, &fd, &elf);
	if (err)
		return err;
	/* .dynsym first: the names other objects bind to */
	for (pass = 0; pass < 2; pass++) {
		scn = NULL;
		while ((scn = elf_nextscn(elf, scn))) {
			if (!gelf_getshdr(scn, &sh))
				continue;
			if (sh.sh_type != (pass == 0 ? SHT_DYNSYM : SHT_SYMTAB))
				continue;
			found += scan_symtab(elf, scn, &sh, names, n, out);
		}
	}
	elf_close(fd, elf);
	return found;
}

int ms_elf_interp(const char *path, char *buf, size_t len)
{
	size_t i, n, sz;
	GElf_Phdr ph;
	Elf *elf;
	char *img;
	int fd, err;

	err = elf_open(path, &fd, &elf);
	if (err)
		return err;
	err = -ENOENT;
	if (elf_getphdrnum(elf, &n)) {
		err = -ENOEXEC;
		goto out;
	}
	img = elf_rawfile(elf, &sz);
	for (i = 0; i < n; i++) {
		if (!gelf_getphdr(elf, i, &ph) || ph.p_type != PT_INTERP)
			continue;
		if (!img || ph.p_offset >= sz || ph.p_filesz > sz - ph.p_offset ||
		    ph.p_filesz == 0 || ph.p_filesz > len) {
			err = -ENOEXEC;
			goto out;
		}
		memcpy(buf, img + ph.p_offset, ph.p_filesz);
		buf[ph.p_filesz - 1] = '\0';
		err = 0;
		break;
	}
out:
	elf_close(fd, elf);
	return err;
}
