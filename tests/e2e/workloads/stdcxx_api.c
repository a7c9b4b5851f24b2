// build: -lstdc++
/* stdcxx_api.c: libstdc++'s operator new and delete, every form the uprobes trace with
 * --stacks (user/presets.c's libstdc++ preset: new, new[], delete, delete[], the sized
 * deletes, the nothrow news, the aligned forms), called by their mangled names as a C++
 * program's calls bind, beside malloc and free (apimix.h: gated, one window, the ground
 * truth of allocator "libc", whose functions the operators are with --stacks) */
#include "apimix.h"

void *_ZnwmSt11align_val_t(size_t size, size_t align);
void *_ZnamSt11align_val_t(size_t size, size_t align);
void _ZdlPvSt11align_val_t(void *p, size_t align);
void _ZdaPvSt11align_val_t(void *p, size_t align);
void _ZdlPvmSt11align_val_t(void *p, size_t size, size_t align);
void _ZdaPvmSt11align_val_t(void *p, size_t size, size_t align);

VFN(_ZnwmRKSt9nothrow_t);
VFN(_ZnamRKSt9nothrow_t);
VFN(_ZnwmSt11align_val_t);
VFN(_ZnamSt11align_val_t);
VFN(_ZdlPvSt11align_val_t);
VFN(_ZdaPvSt11align_val_t);
VFN(_ZdlPvmSt11align_val_t);
VFN(_ZdaPvmSt11align_val_t);

static struct agt lc = { .name = "libc", .kind = "libc" };
static const char nothrow; /* stands for std::nothrow */

static void window(unsigned iters)
{
	size_t n, align;
	unsigned i;
	void *p;

	for (i = 0; i < iters; i++) {
		apimix_cxx(&lc, i, apimix_cxx_demangled);

		/* the nothrow news, released by plain delete and delete[] */
		n = gt_size(i, 50, 1, 900);
		p = apimix_got(&lc, "operator new(unsigned long, std::nothrow_t const&)",
			       _ZnwmRKSt9nothrow_t_fn(n, &nothrow), n);
		apimix_delete(p);
		agt_free(&lc, "operator delete(void*)", n);
		n = gt_size(i, 51, 1, 900);
		p = apimix_got(&lc, "operator new[](unsigned long, std::nothrow_t const&)",
			       _ZnamRKSt9nothrow_t_fn(n, &nothrow), n);
		apimix_deletearray(p);
		agt_free(&lc, "operator delete[](void*)", n);

		/* the aligned forms */
		align = (size_t)64 << (i % 3);
		n = gt_size(i, 52, 1, 900);
		p = apimix_got(&lc, "operator new(unsigned long, std::align_val_t)",
			       _ZnwmSt11align_val_t_fn(n, align), n);
		_ZdlPvSt11align_val_t_fn(p, align);
		agt_free(&lc, "operator delete(void*, std::align_val_t)", n);
		n = gt_size(i, 53, 1, 900);
		p = apimix_got(&lc, "operator new[](unsigned long, std::align_val_t)",
			       _ZnamSt11align_val_t_fn(n, align), n);
		_ZdaPvSt11align_val_t_fn(p, align);
		agt_free(&lc, "operator delete[](void*, std::align_val_t)", n);
		n = gt_size(i, 54, 1, 900);
		p = apimix_got(&lc, "operator new(unsigned long, std::align_val_t)",
			       _ZnwmSt11align_val_t_fn(n, align), n);
		_ZdlPvmSt11align_val_t_fn(p, n, align);
		agt_free(&lc, "operator delete(void*, unsigned long, std::align_val_t)", n);
		n = gt_size(i, 55, 1, 900);
		p = apimix_got(&lc, "operator new[](unsigned long, std::align_val_t)",
			       _ZnamSt11align_val_t_fn(n, align), n);
		_ZdaPvmSt11align_val_t_fn(p, n, align);
		agt_free(&lc, "operator delete[](void*, unsigned long, std::align_val_t)", n);
	}
	apimix_end(&lc);
}

int main(int argc, char **argv)
{
	return apimix_main(argc, argv, window);
}
