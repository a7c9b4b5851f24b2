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

/* How a name matches a symbol, beyond equality */
#define MS_ELFQ_DEMANGLED 0x1 /* a C++ name as written in source: Arena::Allocate */
#define MS_ELFQ_RUST 0x2      /* also Rust's v0-mangled form (_RNv..12___rust_alloc) */

struct ms_elf_query {
	const char *name;
	unsigned flags; /* MS_ELFQ_* */
};

/* ms_elf_lookup with match flags per name; exact names are found through a hash, so
 * the cost is one pass over the symbols whatever the number of names */
int ms_elf_lookup_query(const char *path, const struct ms_elf_query *q, size_t n,
			struct ms_elf_func *out);

/* Whether symbol sym (demangled with __cxa_demangle) names the C++ function name:
 * "Arena::Allocate" matches "Arena::Allocate(unsigned long)" */
bool ms_elf_demangled_match(const char *sym, const char *name);

/* Whether symbol sym is Rust's v0 mangling of the item name */
bool ms_elf_rust_match(const char *sym, const char *name);

/*
 * The function of path that contains file offset off (an address in a mapping turned
 * into a file offset): its name into name, and the offset into it. Returns 0,
 * -ENOENT when no function symbol covers it, or -errno.
 */
int ms_elf_symbolize(const char *path, uint64_t off, char *name, size_t len, uint64_t *into);

/* Copies the PT_INTERP path of an executable into buf. Returns 0, -ENOENT when it has
 * none (static), -ENOEXEC/-errno when it is not a readable ELF file. */
int ms_elf_interp(const char *path, char *buf, size_t len);

#endif
