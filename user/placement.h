/* placement.h: where on a function's entry path a probe costs least */
#ifndef MS_PLACEMENT_H
#define MS_PLACEMENT_H

#include <stddef.h>
#include <stdint.h>

/*
 * The kernel emulates a few instructions at a probe point (push of a register, nop,
 * direct jumps, conditional jumps, direct calls) and single-steps every other one out
 * of line, which costs a second trap. A probe placed at the first emulated instruction
 * of the entry path catches every call as long as nothing before it:
 *  - writes the stack pointer (the return address must still be on top: the return
 *    probe goes to the same point, and the programs match returns by stack pointer),
 *  - writes an argument register the programs read,
 *  - branches, returns or traps (only emulated branches are probe points themselves),
 *  - is the target of a direct branch from inside the function (the probe would
 *    fire twice for one call).
 */
struct ms_placement {
	uint64_t off;	  /* bytes from the function's entry: 0 when it stays there */
	unsigned crossed; /* instructions moved across */
	char insn[32];	  /* the instruction probed, for -v ("push %rbp") */
	const char *why;  /* when off is 0 and no better point was proven: the reason */
};

/* Register bits for ms_place_probe's protect mask: argument registers by index */
#define MS_PROTECT_ARG(i) (1u << (i))

/*
 * Chooses the probe point of a function whose code (len bytes from its entry, the
 * whole function when its size is known) is given. protect: the argument registers
 * the programs read (MS_PROTECT_ARG bits). Never fails: the entry is the fallback.
 */
void ms_place_probe(const uint8_t *code, size_t len, unsigned protect, struct ms_placement *out);

#endif
