/* placement.c: probe placement on x86-64 entry paths, decoded with capstone */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <capstone/capstone.h>
#include "placement.h"

#define MAX_WALK 24 /* instructions looked at on the entry path */

/* The 64-bit register that reg is part of (edi -> rdi), or reg itself */
static x86_reg parent(x86_reg r)
{
	switch (r) {
	case X86_REG_DIL:
	case X86_REG_DI:
	case X86_REG_EDI:
	case X86_REG_RDI:
		return X86_REG_RDI;
	case X86_REG_SIL:
	case X86_REG_SI:
	case X86_REG_ESI:
	case X86_REG_RSI:
		return X86_REG_RSI;
	case X86_REG_DL:
	case X86_REG_DH:
	case X86_REG_DX:
	case X86_REG_EDX:
	case X86_REG_RDX:
		return X86_REG_RDX;
	case X86_REG_CL:
	case X86_REG_CH:
	case X86_REG_CX:
	case X86_REG_ECX:
	case X86_REG_RCX:
		return X86_REG_RCX;
	case X86_REG_R8B:
	case X86_REG_R8W:
	case X86_REG_R8D:
	case X86_REG_R8:
		return X86_REG_R8;
	case X86_REG_R9B:
	case X86_REG_R9W:
	case X86_REG_R9D:
	case X86_REG_R9:
		return X86_REG_R9;
	case X86_REG_SPL:
	case X86_REG_SP:
	case X86_REG_ESP:
	case X86_REG_RSP:
		return X86_REG_RSP;
	default:
		return r;
	}
}

static const x86_reg arg_regs[6] = { X86_REG_RDI, X86_REG_RSI, X86_REG_RDX,
				     X86_REG_RCX, X86_REG_R8,  X86_REG_R9 };

static bool in_group(const cs_insn *in, uint8_t group)
{
	uint8_t i;

	for (i = 0; i < in->detail->groups_count; i++)
		if (in->detail->groups[i] == group)
			return true;
	return false;
}

/* A direct branch's target, or UINT64_MAX */
static uint64_t direct_target(const cs_insn *in)
{
	const cs_x86 *x = &in->detail->x86;

	if (!in_group(in, CS_GRP_JUMP) && !in_group(in, CS_GRP_CALL))
		return UINT64_MAX;
	if (x->op_count != 1 || x->operands[0].type != X86_OP_IMM)
		return UINT64_MAX;
	return x->operands[0].imm;
}

/* Whether the kernel's uprobes emulate the instruction instead of single-stepping it */
static bool emulated(const cs_insn *in)
{
	const cs_x86 *x = &in->detail->x86;

	switch (in->id) {
	case X86_INS_PUSH:
		/* push of a 64-bit general register: 50+r, 41 50+r */
		return x->op_count == 1 && x->operands[0].type == X86_OP_REG && in->size <= 2 &&
		       in->bytes[in->size - 1] >= 0x50 && in->bytes[in->size - 1] <= 0x57;
	case X86_INS_NOP:
		return in->bytes[in->size - 1] == 0x90; /* prefixes + 0x90 */
	case X86_INS_JMP:
	case X86_INS_CALL:
		return direct_target(in) != UINT64_MAX;
	default:
		/* conditional jumps (jcc rel8/rel32; not jrcxz/loop) */
		return in_group(in, CS_GRP_JUMP) && direct_target(in) != UINT64_MAX &&
		       in->id != X86_INS_JRCXZ && in->id != X86_INS_JECXZ &&
		       in->id != X86_INS_LOOP && in->id != X86_INS_LOOPE &&
		       in->id != X86_INS_LOOPNE;
	}
}

/* Why crossing in is unsafe, or NULL */
static const char *unsafe(csh cs, const cs_insn *in, unsigned protect)
{
	cs_regs rd, wr;
	uint8_t nrd, nwr, i, k;

	if (in_group(in, CS_GRP_JUMP) || in_group(in, CS_GRP_CALL) || in_group(in, CS_GRP_RET) ||
	    in_group(in, CS_GRP_INT) || in_group(in, CS_GRP_IRET))
		return "a branch before any emulated instruction";
	if (cs_regs_access(cs, in, rd, &nrd, wr, &nwr))
		return "an instruction capstone cannot analyse";
	for (i = 0; i < nwr; i++) {
		x86_reg r = parent(wr[i]);

		if (r == X86_REG_RSP)
			return "the stack pointer changes first";
		for (k = 0; k < 6; k++)
			if ((protect & MS_PROTECT_ARG(k)) && r == arg_regs[k])
				return "an argument register changes first";
	}
	return NULL;
}

void ms_place_probe(const uint8_t *code, size_t len, unsigned protect, struct ms_placement *out)
{
	const uint8_t *p = code;
	uint64_t addr = 0, point = 0;
	size_t left = len;
	cs_insn *in;
	unsigned n = 0;
	bool found = false;
	csh cs;

	memset(out, 0, sizeof(*out));
	out->why = "no emulated instruction on the entry path";
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK) {
		out->why = "the disassembler is unavailable";
		return;
	}
	cs_option(cs, CS_OPT_DETAIL, CS_OPT_ON);
	in = cs_malloc(cs);
	/* walk the entry path to the first emulated instruction */
	while (n < MAX_WALK && cs_disasm_iter(cs, &p, &left, &addr, in)) {
		if (emulated(in)) {
			point = in->address;
			snprintf(out->insn, sizeof(out->insn), "%.10s%s%.20s", in->mnemonic,
				 in->op_str[0] ? " " : "", in->op_str);
			found = true;
			break;
		}
		out->why = unsafe(cs, in, protect);
		if (out->why)
			break;
		n++;
	}
	if (!found) {
		if (!out->why)
			out->why = n == MAX_WALK ?
					   "no emulated instruction early on the entry path" :
					   "code that does not decode";
		goto done;
	}
	/* nothing in the function may branch into the stretch moved across */
	if (point) {
		p = code;
		left = len;
		addr = 0;
		while (cs_disasm_iter(cs, &p, &left, &addr, in)) {
			uint64_t t = direct_target(in);

			if (t != UINT64_MAX && t > 0 && t <= point) {
				out->why = "a branch inside the function leads into the entry path";
				found = false;
				break;
			}
		}
	}
	if (found) {
		out->off = point;
		out->crossed = n;
		out->why = NULL;
	}
done:
	if (!found)
		out->insn[0] = '\0';
	cs_free(in, 1);
	cs_close(&cs);
}
