/* fuzz_demangle.c: symbol names from ELF files (whatever a crafted binary's string table
 * holds) against the names a user asked for: C++ (libiberty's demangler) and Rust v0 matching,
 * and the symbolizer's demangler (libiberty) when built in. Input: SYMBOL NUL NAME. */
#include <string.h>
#include "elfsym.h"
#include "fuzz.h"
#ifdef MS_FUZZ_SYMBOLIZER
#include "symbolizer.h"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *sym = fz_cstr(data, size), *name;
	size_t symlen = strlen(sym);

	/* the name after the first NUL, "Arena::Allocate" when there is none */
	name = symlen < size ? sym + symlen + 1 : (char *)"Arena::Allocate";
	ms_elf_demangled_match(sym, name);
	ms_elf_rust_match(sym, name);
	/* the symbol is a C string: an unterminated one must not be passed, so the name
	 * half is matched against itself as a symbol too */
	ms_elf_demangled_match(name, sym);
	ms_elf_rust_match(name, sym);
#ifdef MS_FUZZ_SYMBOLIZER
	{
		static const size_t lens[] = { 1, 7, 64, 512 };
		char *buf;
		size_t i;

		for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
			buf = malloc(lens[i]); /* exact: ASan sees a write past it */
			if (!buf)
				abort();
			ms_demangle(sym, buf, lens[i]);
			FZ_CHECK(memchr(buf, '\0', lens[i]), "demangled name not terminated");
			free(buf);
		}
	}
#endif
	free(sym);
	return 0;
}
