/* fake_frame.c: allocations whose frame-pointer chain leaves the stack.
 *
 * fake_frame_malloc points rbp at a made-up frame before it calls malloc: the frame's
 * "return address" is an address in this program's data (table[]), and its saved rbp
 * ends the walk. A frame-pointer walk from malloc sees the real caller, then that data
 * address. A tracer must show the stack up to the caller only and mark it truncated.
 * plain_malloc's stack is whole: main, __libc_start_call_main, ...
 *
 * usage: fake_frame N M   N blocks of 48 bytes through the made-up frame, M blocks of 80
 * bytes through plain_malloc, all kept live; prints {"data": ADDR, "fake": N, "plain": M}
 * and waits for a line on stdin (or its end) before it exits.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

uint64_t table[64];		    /* a data address: what the made-up frame returns to */
uint64_t fake_frame_rec[2] = { 0 }; /* saved rbp 0 (the walk ends), return address */

void *fake_frame_malloc(size_t n);
__asm__(".text\n"
	".globl fake_frame_malloc\n"
	".type fake_frame_malloc, @function\n"
	"fake_frame_malloc:\n"
	"\tpush %rbp\n" /* the stack is 16-byte aligned again for the call */
	"\tlea fake_frame_rec(%rip), %rbp\n"
	"\tcall malloc@PLT\n"
	"\tpop %rbp\n"
	"\tret\n"
	".size fake_frame_malloc, .-fake_frame_malloc\n");

__attribute__((noinline)) static void *plain_malloc(size_t n)
{
	void *p = malloc(n);

	__asm__ volatile("" : : "r"(p) : "memory"); /* not a tail call: its frame stays */
	return p;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 10, m = argc > 2 ? atoi(argv[2]) : 10, i;
	static void *keep[100000];
	char line[16];

	fake_frame_rec[1] = (uint64_t)(uintptr_t)&table[8];
	if (n + m > 100000)
		return 2;
	for (i = 0; i < n; i++)
		keep[i] = fake_frame_malloc(48);
	for (i = 0; i < m; i++)
		keep[n + i] = plain_malloc(80);
	printf("{\"data\": %llu, \"fake\": %d, \"plain\": %d}\n",
	       (unsigned long long)(uintptr_t)&table[8], n, m);
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		line[0] = 0;
	return keep[0] == keep[1];
}
