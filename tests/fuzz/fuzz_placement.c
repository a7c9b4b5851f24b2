/* fuzz_placement.c: probe placement decodes the first bytes of a function with capstone;
 * the bytes come from the ELF object a traced process maps (any binary). Input: the
 * protected-argument mask, then the code. */
#include <string.h>
#include "fuzz.h"
#include "placement.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ms_placement pl;
	uint8_t *code;

	if (!size)
		return 0;
	code = fz_copy(data + 1, size - 1); /* exact size: ASan sees a read past the end */
	ms_place_probe(code, size - 1, data[0] & 0x3f, &pl);
	FZ_CHECK(!pl.off || pl.off < size - 1, "probe point %llu past the code (%zu bytes)",
		 (unsigned long long)pl.off, size - 1);
	FZ_CHECK(memchr(pl.insn, '\0', sizeof(pl.insn)), "insn not terminated");
	FZ_CHECK(!pl.off || !pl.why, "a point with a reason not to use it");
	free(code);
	return 0;
}
