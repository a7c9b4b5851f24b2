// build: -nostdlib -static -fno-stack-protector -fno-pie -no-pie
/* nolibc.c: a static program without any libc, for the "process without a libc" error
 *
 * Built with the flags on the first line (the Makefile's pattern rule appends them):
 *   cc -O1 -g -fno-omit-frame-pointer -pthread -Wall -Werror \
 *      -nostdlib -static -fno-stack-protector -fno-pie -no-pie nolibc.c -o nolibc
 * Prints "ready <pid>" with raw system calls and sleeps in pause() until killed.
 */
#include <sys/syscall.h>

static long sys3(long nr, long a, long b, long c)
{
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a), "S"(b), "d"(c)
			 : "rcx", "r11", "memory");
	return ret;
}

void nolibc_main(void)
{
	char buf[32] = "ready ";
	char d[12];
	long pid = sys3(SYS_getpid, 0, 0, 0);
	int n = 6, i = 0;

	do {
		d[i++] = (char)('0' + pid % 10);
		pid /= 10;
	} while (pid);
	while (i)
		buf[n++] = d[--i];
	buf[n++] = '\n';
	sys3(SYS_write, 1, (long)buf, n);
	for (;;)
		sys3(SYS_pause, 0, 0, 0);
}

/* the entry point: no return address on the stack, align it for the C call */
__asm__(".globl _start\n"
	"_start:\n"
	"	xor %rbp, %rbp\n"
	"	and $-16, %rsp\n"
	"	call nolibc_main\n"
	"	hlt\n");
