/* tiny.c: the ELF seed of fuzz_elf: a small dynamically linked program with a PT_INTERP,
 * .dynsym and (unstripped) .symtab entries, an IFUNC-free exported allocator, and
 * functions named like C++ and Rust (legacy and v0) symbols */
#include <stdlib.h>

__attribute__((noinline, visibility("default"))) void *tiny_alloc(unsigned long n)
{
	return malloc(n + 16);
}

/* ns::Arena::Allocate(unsigned long) */
__attribute__((noinline, used)) void *arena_allocate(void *self, unsigned long n) __asm__(
	"_ZN2ns5Arena8AllocateEm");
void *arena_allocate(void *self, unsigned long n)
{
	return tiny_alloc(n);
}

/* Rust v0: __rust_alloc; and a legacy-mangled __rdl_alloc */
__attribute__((noinline, used)) void *rust_alloc(unsigned long n, unsigned long a) __asm__(
	"_RNvCsdBezmDYvm3G_7___rustc12___rust_alloc");
void *rust_alloc(unsigned long n, unsigned long a)
{
	return tiny_alloc(n + a);
}

__attribute__((noinline, used)) void *rdl_alloc(unsigned long n) __asm__(
	"_ZN5alloc5alloc11__rdl_alloc17h0123456789abcdefE");
void *rdl_alloc(unsigned long n)
{
	return tiny_alloc(n);
}

int main(int argc, char **argv)
{
	void *p = arena_allocate(NULL, argc);

	free(p);
	free(rust_alloc(argc, 8));
	free(rdl_alloc(argc));
	return 0;
}
