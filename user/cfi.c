/* cfi.c: an object's call frame information as the rows the BPF programs unwind with */
#include <dwarf.h>
#include <errno.h>
#include <gelf.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <elfutils/libdw.h>
#include "cfi.h"
#include "elfsym.h"
#include "vec.h"

#define REG_RBP 6
#define REG_RSP 7
#define REG_RA 16

/* The offset N of a location "CFA + N": [DW_OP_call_frame_cfa, DW_OP_plus_uconst N]
 * (libdw's form, N wrapping for negative offsets) or [.., DW_OP_consts N, DW_OP_plus] */
static bool cfa_plus(const Dwarf_Op *ops, size_t n, int64_t *off)
{
	if (n == 2 && ops[0].atom == DW_OP_call_frame_cfa && ops[1].atom == DW_OP_plus_uconst) {
		*off = (int64_t)ops[1].number;
		return true;
	}
	if (n == 3 && ops[0].atom == DW_OP_call_frame_cfa && ops[1].atom == DW_OP_consts &&
	    ops[2].atom == DW_OP_plus) {
		*off = (int64_t)ops[1].number;
		return true;
	}
	return false;
}

/* The offset N of a location "rsp + N" as libdw gives an expression rule:
 * [DW_OP_call_frame_cfa, DW_OP_breg7 N] (the CFA pushed first, then the address) */
static bool rsp_plus(const Dwarf_Op *ops, size_t n, int64_t *off)
{
	if (n != 2 || ops[0].atom != DW_OP_call_frame_cfa || ops[1].atom != DW_OP_breg0 + REG_RSP)
		return false;
	*off = (int64_t)ops[1].number;
	return true;
}

/* A signal frame's rule (glibc's __restore_rt): CFA = *(rsp + N), the interrupted rsp saved
 * at rsp + N, its ip next to it at rsp + N + 8, its rbp at rsp + M; the kernel's x86-64
 * signal frame (N 160, M 120) or any other that keeps that shape. MS_CFI_NONE otherwise. */
static struct ms_cfi_row signal_row(Dwarf_Frame *frame, uint32_t pc)
{
	struct ms_cfi_row r = { .pc = pc, .cfa_reg = MS_CFI_NONE };
	Dwarf_Op mem[3], *ops;
	int64_t cfa_at, sp_at, ip_at, bp_at;
	size_t n;

	if (dwarf_frame_cfa(frame, &ops, &n) || n != 2 || ops[0].atom != DW_OP_breg0 + REG_RSP ||
	    ops[1].atom != DW_OP_deref)
		return r;
	cfa_at = (int64_t)ops[0].number;
	if (dwarf_frame_register(frame, REG_RSP, mem, &ops, &n) || !rsp_plus(ops, n, &sp_at) ||
	    sp_at != cfa_at)
		return r;
	if (dwarf_frame_register(frame, REG_RA, mem, &ops, &n) || !rsp_plus(ops, n, &ip_at) ||
	    ip_at != sp_at + 8)
		return r;
	if (dwarf_frame_register(frame, REG_RBP, mem, &ops, &n) || !rsp_plus(ops, n, &bp_at))
		return r;
	if (sp_at < 0 || sp_at > INT16_MAX || bp_at < 0 || bp_at > INT16_MAX)
		return r;
	r.cfa_reg = MS_CFI_SIGNAL;
	r.cfa_off = (int32_t)sp_at;
	r.rbp_saved = 1;
	r.rbp_off = (int16_t)bp_at;
	return r;
}

/* The rule of frame as a row at pc; MS_CFI_NONE when the programs cannot follow it */
static struct ms_cfi_row row_of(Dwarf_Frame *frame, uint32_t pc)
{
	struct ms_cfi_row r = { .pc = pc, .cfa_reg = MS_CFI_NONE };
	Dwarf_Op mem[3], *ops;
	int64_t cfa_off, off;
	size_t n;
	unsigned reg;
	bool signal;

	if (dwarf_frame_info(frame, NULL, NULL, &signal) < 0)
		return r;
	if (signal)
		return signal_row(frame, pc);
	if (dwarf_frame_cfa(frame, &ops, &n) || n != 1)
		return r;
	if (ops[0].atom == DW_OP_bregx) {
		reg = ops[0].number;
		cfa_off = (int64_t)ops[0].number2;
	} else if (ops[0].atom >= DW_OP_breg0 && ops[0].atom <= DW_OP_breg31) {
		reg = ops[0].atom - DW_OP_breg0;
		cfa_off = (int64_t)ops[0].number;
	} else {
		return r;
	}
	if ((reg != REG_RSP && reg != REG_RBP) || cfa_off < INT32_MIN || cfa_off > INT32_MAX)
		return r;
	/* the return address: where the call pushed it */
	if (dwarf_frame_register(frame, REG_RA, mem, &ops, &n) || !cfa_plus(ops, n, &off) ||
	    off != -8)
		return r;
	if (dwarf_frame_register(frame, REG_RBP, mem, &ops, &n))
		return r;
	if (n) {
		if (!cfa_plus(ops, n, &off) || off < INT16_MIN || off > INT16_MAX)
			return r;
		r.rbp_saved = 1;
		r.rbp_off = (int16_t)off;
	}
	r.cfa_reg = reg == REG_RSP ? MS_CFI_RSP : MS_CFI_RBP;
	r.cfa_off = (int32_t)cfa_off;
	return r;
}

static bool same_rule(const struct ms_cfi_row *a, const struct ms_cfi_row *b)
{
	return a->cfa_reg == b->cfa_reg && a->cfa_off == b->cfa_off &&
	       a->rbp_saved == b->rbp_saved && a->rbp_off == b->rbp_off;
}

/* Appends r unless it repeats the last row's rule; 0, -ENOMEM or -EFBIG */
static int push(struct ms_cfi_table *t, struct ms_cfi_row r)
{
	if (t->n && t->v[t->n - 1].pc == r.pc) {
		t->v[t->n - 1] = r; /* an empty range before it: the later rule holds */
		if (t->n > 1 && same_rule(&t->v[t->n - 2], &r))
			t->n--;
		return 0;
	}
	if (t->n && same_rule(&t->v[t->n - 1], &r))
		return 0;
	if (t->n >= MS_CFI_ROWS_MAX)
		return -EFBIG;
	return MS_VEC_PUSH(t->v, t->n, t->cap, r);
}

/* The section named name, or NULL */
static Elf_Scn *section(Elf *elf, const char *name, GElf_Shdr *sh)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	const char *s;

	if (elf_getshdrstrndx(elf, &shstrndx))
		return NULL;
	while ((scn = elf_nextscn(elf, scn))) {
		if (!gelf_getshdr(scn, sh))
			continue;
		s = elf_strptr(elf, shstrndx, sh->sh_name);
		if (s && !strcmp(s, name))
			return scn;
	}
	return NULL;
}

static int32_t le32(const unsigned char *p)
{
	return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
			 (uint32_t)p[3] << 24);
}

static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* Walks the rows of the FDE that starts at start, up to the next FDE's start (limit) */
static int walk_fde(Dwarf_CFI *cfi, struct ms_cfi_table *t, uint64_t start, uint64_t limit)
{
	unsigned rows = 0;

	struct ms_cfi_row none = { .cfa_reg = MS_CFI_NONE };
	uint64_t addr = start, end = start;
	Dwarf_Addr lo, hi;
	Dwarf_Frame *frame;
	struct ms_cfi_row r;
	int err;

	while (addr < limit && addr <= UINT32_MAX) {
		if (++rows > MS_CFI_FDE_ROWS_MAX)
			return -EFBIG;
		if (dwarf_cfi_addrframe(cfi, addr, &frame))
			break;
		if (dwarf_frame_info(frame, &lo, &hi, NULL) < 0 || hi <= addr) {
			free(frame);
			break;
		}
		r = row_of(frame, (uint32_t)addr);
		free(frame);
		t->unsupported += r.cfa_reg == MS_CFI_NONE;
		err = push(t, r);
		if (err)
			return err;
		addr = end = hi;
	}
	/* past the FDE, up to the next one: no rule */
	if (end > start && end < limit && end <= UINT32_MAX) {
		none.pc = (uint32_t)end;
		return push(t, none);
	}
	return 0;
}

/* The executable PT_LOAD segments */
static void segments(Elf *elf, struct ms_cfi_table *t)
{
	GElf_Phdr ph;
	size_t n, i;

	if (elf_getphdrnum(elf, &n))
		return;
	for (i = 0; i < n && t->nseg < MS_CFI_SEGMENTS; i++)
		if (gelf_getphdr(elf, i, &ph) && ph.p_type == PT_LOAD && (ph.p_flags & PF_X))
			t->seg[t->nseg++] =
				(struct ms_cfi_segment){ ph.p_offset, ph.p_filesz,
							 (int64_t)(ph.p_vaddr - ph.p_offset) };
}

static int by_loc(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

int ms_cfi_read(int fd, struct ms_cfi_table *t)
{
	GElf_Shdr hsh, fsh;
	Elf_Scn *hdr, *frame;
	Elf_Data *d;
	Dwarf_CFI *cfi = NULL;
	const unsigned char *p;
	uint64_t *locs = NULL;
	size_t nfde, i;
	uint64_t t0;
	Elf *elf;
	int err;

	memset(t, 0, sizeof(*t));
	err = ms_elf_check_headers(fd);
	if (err)
		return err;
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf)
		return -ENOEXEC;
	segments(elf, t);
	hdr = section(elf, ".eh_frame_hdr", &hsh);
	frame = section(elf, ".eh_frame", &fsh);
	if (!hdr || !frame || hsh.sh_type == SHT_NOBITS || fsh.sh_type == SHT_NOBITS) {
		err = -ENOENT;
		goto out;
	}
	if (hsh.sh_size + fsh.sh_size > MS_CFI_FRAME_BYTES_MAX) {
		err = -EFBIG;
		goto out;
	}
	d = elf_getdata(hdr, NULL);
	p = d ? d->d_buf : NULL;
	/* version 1, and the table GNU ld writes: datarel sdata4 pairs, sorted */
	if (!p || d->d_size < 12 || p[0] != 1 || p[3] != (DW_EH_PE_datarel | DW_EH_PE_sdata4) ||
	    p[2] != DW_EH_PE_udata4) {
		err = -ENOENT;
		goto out;
	}
	nfde = (uint32_t)le32(p + 8);
	if (nfde > (d->d_size - 12) / 8) {
		err = -ENOEXEC;
		goto out;
	}
	cfi = dwarf_getcfi_elf(elf);
	locs = malloc((nfde + 1) * sizeof(*locs));
	if (!cfi || !locs) {
		err = cfi ? -ENOMEM : -ENOENT;
		goto out;
	}
	for (i = 0; i < nfde; i++)
		locs[i] = hsh.sh_addr + (int64_t)le32(p + 12 + 8 * i);
	qsort(locs, nfde, sizeof(*locs), by_loc); /* sorted, but the file is not ours */
	locs[nfde] = UINT64_MAX;
	t0 = cpu_ns();
	for (i = 0; i < nfde && !err; i++) {
		if (i && locs[i] == locs[i - 1])
			continue;
		err = walk_fde(cfi, t, locs[i], locs[i + 1]);
		t->fdes++;
		if (!err && !(i & 255) && cpu_ns() - t0 > MS_CFI_TIME_MAX_NS)
			err = -ETIME;
	}
out:
	free(locs);
	if (cfi)
		dwarf_cfi_end(cfi);
	elf_end(elf);
	if (err && err != -ENOENT)
		ms_cfi_free(t);
	return err;
}

int ms_cfi_bias(const struct ms_cfi_segment *seg, unsigned nseg, uint64_t start, uint64_t offset,
		uint64_t *bias)
{
	unsigned i;

	for (i = 0; i < nseg; i++) {
		/* the mapping starts at the page that holds the segment's first byte */
		uint64_t first = seg[i].offset & ~4095ULL;

		if (offset >= first && offset < seg[i].offset + seg[i].size) {
			*bias = start - offset - seg[i].delta;
			return 0;
		}
	}
	return -ENOENT;
}

const struct ms_cfi_row *ms_cfi_find(const struct ms_cfi_table *t, uint32_t pc)
{
	size_t lo = 0, hi = t->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (t->v[mid].pc <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? &t->v[lo - 1] : NULL;
}

void ms_cfi_free(struct ms_cfi_table *t)
{
	free(t->v);
	t->v = NULL;
	t->n = t->cap = 0;
}
