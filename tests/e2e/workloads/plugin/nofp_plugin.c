/* nofp_plugin.c: a library built without frame pointers (-O2 -fomit-frame-pointer), loaded
 * with dlopen by stack_paths.c: its allocations are made two calls into it, so a stack
 * through it must be unwound from its call frame information.
 */
#include <signal.h>
#include <stdlib.h>

#define NOINLINE __attribute__((noinline, noclone))
#define KEEP(p) __asm__ volatile("" : : "r"(p) : "memory")

int nofp_plugin_stop; /* stop (SIGSTOP) before the first malloc */

NOINLINE static void *plugin_alloc(size_t n)
{
	void *p;

	if (nofp_plugin_stop) {
		nofp_plugin_stop = 0;
		raise(SIGSTOP);
	}
	p = malloc(n); /* malloc in plugin_alloc */
	KEEP(p);
	return p;
}

/* n blocks of size bytes into keep, all kept */
void plugin_fill(void **keep, unsigned n, size_t size)
{
	unsigned i;

	for (i = 0; i < n; i++)
		keep[i] = plugin_alloc(size);
	KEEP(keep);
}
