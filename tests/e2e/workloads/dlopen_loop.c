// build: -ldl
/* dlopen_loop.c: loads and unloads a library over and over, and counts the rounds
 *
 * usage: dlopen_loop FILE
 * Each round dlopens libz.so.1 (a library the program does not link), calls nothing,
 * dlcloses it, mallocs and frees a block, and writes the round's number to FILE (a new
 * file renamed over it: a reader never sees it half written). Each dlopen and dlclose changes the loader's link map: under a
 * tracer whose loader probe stops the process at each change, the process stops that
 * often. Runs until killed.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	unsigned long round;
	char buf[32], tmp[4096];
	int fd, n;
	void *h, *p;

	if (argc != 2) {
		fputs("usage: dlopen_loop FILE\n", stderr);
		return 2;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", argv[1]);
	for (round = 1;; round++) {
		h = dlopen("libz.so.1", RTLD_NOW | RTLD_LOCAL);
		if (!h) {
			fprintf(stderr, "dlopen_loop: %s\n", dlerror());
			return 1;
		}
		dlclose(h);
		p = malloc(64);
		asm volatile("" ::"r"(p) : "memory");
		free(p);
		n = snprintf(buf, sizeof(buf), "%lu\n", round);
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0 || write(fd, buf, n) != n)
			return 1;
		close(fd);
		if (rename(tmp, argv[1]))
			return 1;
		usleep(2000);
	}
}
