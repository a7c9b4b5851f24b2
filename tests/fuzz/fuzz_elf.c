/* fuzz_elf.c: ELF objects (any binary a traced process maps, or a user names with
 * --alloc /path:func, any object an --in-process command loads): symbol lookup with exact,
 * C++ and Rust names, PT_INTERP, the dynamic section's entries, offset-to-symbol, and (when user/symbolizer.c is built in) the libdwfl symbolizer and
 * the CFI rows the BPF programs unwind with (cfi.c: sorted, within their bounds).
 * Truncated, corrupt and oversized files must give an error, never a crash; objects past
 * the bounds of elfsym.h (huge header counts, tables, inflated sections) give -EFBIG. */
#include <string.h>
#include "elfsym.h"
#include "fuzz.h"
#ifdef MS_FUZZ_SYMBOLIZER
#include <fcntl.h>
#include "cfi.h"
#include "symbolizer.h"
#endif

static const struct ms_elf_query queries[] = {
	{ "malloc", 0 },
	{ "main", 0 },
	{ "_start", 0 },
	{ "tiny_alloc", 0 },
	{ "free", 0 },
	{ "ns::Arena::Allocate", MS_ELFQ_DEMANGLED },
	{ "operator new", MS_ELFQ_DEMANGLED },
	{ "__rust_alloc", MS_ELFQ_RUST },
	{ "__rdl_alloc", MS_ELFQ_DEMANGLED | MS_ELFQ_RUST },
	{ "", 0 },
};
#define NQ (sizeof(queries) / sizeof(queries[0]))

static void check_name(const char *name, size_t len)
{
	FZ_CHECK(memchr(name, '\0', len), "name not terminated");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ms_elf_func out[NQ];
	const char *path = fz_file(data, size);
	uint64_t offs[8], into;
	char name[64], interp[256], tiny[4];
	size_t noffs = 0, i;
	int n, err;

	n = ms_elf_lookup_query(path, queries, NQ, out);
	FZ_CHECK(n == -ENOEXEC || n == -EINVAL || n == -EFBIG || (n >= 0 && (size_t)n <= NQ),
		 "lookup: %d", n);
	for (i = 0; n > 0 && i < NQ; i++) {
		if (!out[i].found)
			continue;
		n--;
		if (noffs < 6) {
			offs[noffs++] = out[i].file_off;
			offs[noffs++] = out[i].file_off + out[i].size / 2;
		}
	}
	FZ_CHECK(n <= 0, "the count does not match the found entries");
	offs[noffs++] = 0;
	offs[noffs++] = size / 2;

	err = ms_elf_interp(path, interp, sizeof(interp));
	FZ_CHECK(err == 0 || err == -ENOENT || err == -ENOEXEC || err == -EINVAL || err == -EFBIG,
		 "interp %d", err);
	if (!err)
		check_name(interp, sizeof(interp));
	err = ms_elf_interp(path, tiny, sizeof(tiny)); /* a PT_INTERP longer than the buffer */
	if (!err)
		check_name(tiny, sizeof(tiny));

	{
		static struct ms_elf_dynamic dyn;

		err = ms_elf_dynamic(path, &dyn);
		FZ_CHECK(err == 0 || err == -ENOEXEC || err == -EINVAL || err == -EFBIG ||
				 err == -E2BIG || err == -ENAMETOOLONG,
			 "dynamic %d", err);
		for (i = 0; !err && i < dyn.nneeded; i++)
			check_name(dyn.needed[i], sizeof(dyn.needed[i]));
		if (!err) {
			FZ_CHECK(dyn.nneeded <= MS_ELF_NEEDED_MAX, "%u needed", dyn.nneeded);
			check_name(dyn.soname, sizeof(dyn.soname));
			check_name(dyn.rpath, sizeof(dyn.rpath));
			check_name(dyn.runpath, sizeof(dyn.runpath));
		}
	}

	for (i = 0; i < noffs; i++) {
		memset(name, 'X', sizeof(name));
		err = ms_elf_symbolize(path, offs[i], name, sizeof(name), &into);
		FZ_CHECK(err == 0 || err == -ENOENT || err == -ENOEXEC || err == -EINVAL ||
				 err == -EFBIG,
			 "symbolize %d", err);
		if (!err)
			check_name(name, sizeof(name));
	}

#ifdef MS_FUZZ_SYMBOLIZER
	{
		/* a fresh symbolizer per input: its caches key objects by build-id and file
		 * identity, and every input here has the same identity */
		struct ms_symbolizer *s = ms_symbolizer_new();
		struct ms_frame_info fi;
		char line[1400];

		if (!s)
			abort();
		/* no separate debug files: nothing outside the input is read */
		ms_symbolizer_set_debug_path(s, "-:/nonexistent-msfuzz");
		for (i = 0; i < noffs && i < 4; i++) {
			err = ms_symbolizer_resolve_as(s, path, path, offs[i], &fi);
			FZ_CHECK(err <= 0, "resolve %d", err);
			check_name(fi.function, sizeof(fi.function));
			check_name(fi.file, sizeof(fi.file));
			check_name(fi.object, sizeof(fi.object));
			ms_frame_format(&fi, true, line, sizeof(line));
			ms_frame_format(&fi, true, tiny, sizeof(tiny));
			/* a second time: from the address cache */
			if (!err)
				err = ms_symbolizer_resolve_as(s, path, path, offs[i], &fi);
		}
		ms_symbolizer_free(s);
	}
	{
		struct ms_cfi_table t;
		int fd = open(path, O_RDONLY | O_CLOEXEC);

		if (fd < 0)
			abort();
		err = ms_cfi_read(fd, &t);
		close(fd);
		FZ_CHECK(err == 0 || err == -ENOENT || err == -ENOEXEC || err == -EFBIG ||
				 err == -ETIME || err == -ENOMEM,
			 "cfi %d", err);
		FZ_CHECK(t.n <= MS_CFI_ROWS_MAX && t.nseg <= MS_CFI_SEGMENTS, "cfi: %zu rows",
			 t.n);
		for (i = 1; i < t.n; i++)
			FZ_CHECK(t.v[i - 1].pc < t.v[i].pc, "cfi rows out of order at %zu", i);
		for (i = 0; i < t.n; i++)
			FZ_CHECK(t.v[i].cfa_reg <= MS_CFI_RBP, "cfi row %zu: register %u", i,
				 t.v[i].cfa_reg);
		ms_cfi_free(&t);
	}
#endif
	return 0;
}
