/* elfsym.h: function symbols of an ELF object, as uprobe file offsets */
#ifndef MS_ELFSYM_H
#define MS_ELFSYM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ms_elf_func {
	bool found;
	uint64_t addr;	   /* st_value: virtual address in the object */
	uint64_t size;	   /* st_size */
	uint64_t file_off; /* where a uprobe goes: the address through its PT_LOAD segment */
};

/*
 * Looks up each of n function names in path's .dynsym and .symtab (defined STT_FUNC
 * symbols; IFUNC resolvers are not the function and are skipped). out[i] says
 * whether names[i] was found and where. Returns the number found, or -errno when the
 * file is not a readable ELF object (truncated, corrupt, not ELF: -ENOEXEC).
 */
int ms_elf_lookup(const char *path, const char *const *names, size_t n, struct ms_elf_func *out);

/* Copies the PT_INTERP path of an executable into buf. Returns 0, -ENOENT when it has
 * none (static), -ENOEXEC/-errno when it is not a readable ELF file. */
int ms_elf_interp(const char *path, char *buf, size_t len);

#endif
