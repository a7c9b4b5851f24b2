/* cfi.h: an object's call frame information (.eh_frame) as the rows the BPF programs
 * unwind with (include/memscope.h's struct ms_cfi_row) */
#ifndef MS_CFI_H
#define MS_CFI_H

#include <stddef.h>
#include <stdint.h>
#include "memscope.h"

/*
 * What reading one object may cost (any process can map a crafted file): libdw reads an
 * FDE's instructions from its start for each row, so a function of many rows costs their
 * square; past a bound the object is unwound without rows (-EFBIG, -ETIME).
 */
#define MS_CFI_FRAME_BYTES_MAX (64u << 20) /* .eh_frame and .eh_frame_hdr, in all */
#define MS_CFI_ROWS_MAX (4u << 20)	   /* rows of one object */
#define MS_CFI_FDE_ROWS_MAX 8192	   /* rows of one function */
#define MS_CFI_TIME_MAX_NS 2000000000ULL   /* CPU time reading one object */

#define MS_CFI_SEGMENTS 4 /* executable PT_LOAD segments kept */

struct ms_cfi_table {
	struct ms_cfi_row *v; /* sorted by pc; a MS_CFI_NONE row where no rule holds */
	size_t n, cap;
	struct ms_cfi_segment {
		uint64_t offset, size; /* of the file */
		int64_t delta;	       /* its virtual address less its file offset */
	} seg[MS_CFI_SEGMENTS];	       /* the executable PT_LOAD segments */
	unsigned nseg;
	size_t fdes;	    /* functions (FDEs) described */
	size_t unsupported; /* rows whose rule the programs cannot follow (expressions,
			       other registers): MS_CFI_NONE */
};

/*
 * The rows of the ELF object open at fd (read with pread, never mapped): each FDE of its
 * .eh_frame (found through .eh_frame_hdr's table) walked row by row with libdw, the rules
 * x86-64 code uses (CFA from rsp or rbp plus an offset, the return address at CFA - 8, rbp
 * saved at an offset from the CFA or left alone; signal frames: MS_CFI_SIGNAL) kept, others
 * marked MS_CFI_NONE, equal
 * neighbours merged; and its executable segments. Returns 0, -ENOENT when the object has no
 * .eh_frame_hdr (its segments are filled all the same), -EFBIG or -ETIME past the bounds
 * above, -ENOEXEC when it is no ELF file, -ENOMEM.
 */
int ms_cfi_read(int fd, struct ms_cfi_table *t);

/* The load bias of a mapping at start of file offset offset of an object with the
 * executable segments seg[0..nseg): its addresses less the bias are the object's. 0 and
 * *bias set, or -ENOENT when no executable segment holds offset. */
int ms_cfi_bias(const struct ms_cfi_segment *seg, unsigned nseg, uint64_t start, uint64_t offset,
		uint64_t *bias);

/* The row that holds pc, or NULL (before the first row) */
const struct ms_cfi_row *ms_cfi_find(const struct ms_cfi_table *t, uint32_t pc);

void ms_cfi_free(struct ms_cfi_table *t);

#endif
