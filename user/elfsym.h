/* elfsym.h: function symbols of an ELF object, as uprobe file offsets */
#ifndef MS_ELFSYM_H
#define MS_ELFSYM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

/*
 * What reading one object's symbols may cost. An object past a bound is not read: the
 * functions below return -EFBIG for it (a crafted 128 MiB sparse file with eight symbol
 * tables over the whole file would otherwise cost a gigabyte and seconds).
 */
#define MS_ELF_HEADERS_MAX 65535u	   /* section headers, and program headers */
#define MS_ELF_TABLE_BYTES_MAX (64u << 20) /* symbol tables and their string tables, in all */
#define MS_ELF_SYMS_MAX (2u << 20)	   /* symbols, in all tables */
#define MS_ELF_INFLATE_MAX (256u << 20)	   /* compressed sections inflated (debug info) */

/*
 * Opens path for reading without blocking, and only when it names a regular file: the
 * path is resolved once (O_PATH, nothing opened), checked, then that very file opened
 * through /proc/self/fd. A FIFO, a device or a directory put where a file was is never
 * opened (-ENOEXEC). Fills st when not NULL. Returns the descriptor or -errno.
 */
int ms_elf_open_file(const char *path, struct stat *st);

/*
 * Opens path (resolved once, O_PATH) when it names a regular file; the descriptor can be
 * fstat'ed, and the file opened or attached to through "/proc/self/fd/N" without being
 * resolved again. Returns the descriptor or -errno (-ENOEXEC when not a regular file).
 */
int ms_elf_pin_file(const char *path, struct stat *st);

/*
 * The section and program header counts of the ELF file open at fd, read before libelf
 * allocates for them (it takes any count the file's size allows: two million section
 * headers in a sparse 128 MiB file). Returns 0, -ENOEXEC when it is no ELF file, or
 * -EFBIG past MS_ELF_HEADERS_MAX. Call it before elf_begin on a file a process names.
 */
int ms_elf_check_headers(int fd);

/* The flags of ms_elf_within_bounds */
#define MS_ELFB_INFLATE 0x1 /* also what compressed sections inflate to (libdw reads them) */

struct Elf;

/*
 * Whether reading elf (open on a file of size bytes) stays within the bounds above:
 * counts the symbol tables (and the string tables they use) that lie inside the file, and
 * with MS_ELFB_INFLATE what compressed sections inflate to. Returns 0, or -EFBIG.
 */
int ms_elf_within_bounds(struct Elf *elf, uint64_t size, unsigned flags);

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
 * file is not a readable ELF object (truncated, corrupt, not ELF, not a regular file:
 * -ENOEXEC), or -EFBIG when reading it is past the bounds above.
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
 * -ENOENT when no function symbol covers it, or -errno (-EFBIG past the bounds above).
 */
int ms_elf_symbolize(const char *path, uint64_t off, char *name, size_t len, uint64_t *into);

/* Copies the PT_INTERP path of an executable into buf. Returns 0, -ENOENT when it has
 * none (static), -ENOEXEC/-errno when it is not a readable ELF file. */
int ms_elf_interp(const char *path, char *buf, size_t len);

/* What the dynamic loader reads of an object's dynamic section (PT_DYNAMIC) */
#define MS_ELF_NEEDED_MAX 256 /* DT_NEEDED entries kept; more: -E2BIG */
#define MS_ELF_NAME_MAX 256   /* bytes of a name, with its NUL; longer: -ENAMETOOLONG */
#define MS_ELF_PATHS_MAX 4096 /* bytes of DT_RPATH or DT_RUNPATH, with its NUL; same */

struct ms_elf_dynamic {
	uint8_t elfclass; /* ELFCLASS32 or ELFCLASS64 */
	uint16_t machine; /* e_machine */
	bool has_rpath, has_runpath;
	char rpath[MS_ELF_PATHS_MAX], runpath[MS_ELF_PATHS_MAX]; /* colon-separated */
	char soname[MS_ELF_NAME_MAX];				 /* "" when none */
	unsigned nneeded;
	char needed[MS_ELF_NEEDED_MAX][MS_ELF_NAME_MAX]; /* in the order the loader reads them */
};

/*
 * The DT_NEEDED, DT_RPATH, DT_RUNPATH and DT_SONAME entries of the ELF object at path, as
 * the loader reads them (through PT_DYNAMIC and the PT_LOAD that maps DT_STRTAB), with its
 * class and machine. Returns 0 (an object without PT_DYNAMIC: no entries), -ENOEXEC when it
 * is not a readable ELF file or its dynamic section is corrupt, -E2BIG or -ENAMETOOLONG past
 * the bounds above, or another -errno.
 */
int ms_elf_dynamic(const char *path, struct ms_elf_dynamic *out);

#endif
