/* apimix.h: the frame of the allocator-API workloads (jemalloc_api, tcmalloc_api,
 * mimalloc_api): one allocator's ground truth (agt.h), a gated window, sizes that vary per
 * iteration, a summit for an exact peak
 *
 * usage: NAME [ITERS]
 * Prints "ready <pid>", waits for SIGUSR1, runs the window, prints the ground truth (one
 * JSON line: the calls of the window only, the allocator's backing not printed), waits for
 * SIGUSR2 and exits. What the program did before the window (its loader, the allocator's
 * own start-up) is not in it: a tracer's figures of the window are the difference between
 * a record before and one after. */
#ifndef MS_E2E_APIMIX_H
#define MS_E2E_APIMIX_H

#include "agt.h"

/* name_fn: a call of name through a volatile pointer (gt.h: the compiler cannot drop or
 * fuse them) */
#define VFN(name) static __typeof__(&name) volatile name##_fn = name

#define APIMIX_HUGE ((size_t)1 << 62) /* no allocator can give this */
#define APIMIX_SUMMIT 200000	      /* bytes: above every transient of the window */

/* A realloc-kind call of fn on window block b to n bytes returned r (NULL: failed, b
 * stays) */
static inline void apimix_re(struct agt *a, const char *fn, struct blk *b, size_t n, void *r)
{
	agt_realloc(a, fn, r, b->n, n);
	if (r) {
		b->p = r;
		b->n = n;
	}
}

/* C++'s operators as the allocator's library defines them, by their mangled names (a C++
 * program's calls bind to these: operator new(size_t) is _Znwm), each through a volatile
 * pointer: new and delete, new[] and delete[], the sized deletes, and with nothrow (the
 * forms tcmalloc's tc_ functions are aliases of) the nothrow forms */
void *_Znwm(size_t size);
void *_Znam(size_t size);
void _ZdlPv(void *p);
void _ZdaPv(void *p);
void _ZdlPvm(void *p, size_t size);
void _ZdaPvm(void *p, size_t size);
/* weak: not every allocator defines the nothrow forms (mimalloc has no nothrow delete) */
void *_ZnwmRKSt9nothrow_t(size_t size, const void *nt) __attribute__((weak));
void *_ZnamRKSt9nothrow_t(size_t size, const void *nt) __attribute__((weak));
void _ZdlPvRKSt9nothrow_t(void *p, const void *nt) __attribute__((weak));
void _ZdaPvRKSt9nothrow_t(void *p, const void *nt) __attribute__((weak));

static void *(*volatile apimix_new)(size_t) = _Znwm;
static void *(*volatile apimix_newarray)(size_t) = _Znam;
static void (*volatile apimix_delete)(void *) = _ZdlPv;
static void (*volatile apimix_deletearray)(void *) = _ZdaPv;
static void (*volatile apimix_delete_sized)(void *, size_t) = _ZdlPvm;
static void (*volatile apimix_deletearray_sized)(void *, size_t) = _ZdaPvm;

static void *apimix_got(struct agt *a, const char *fn, void *p, size_t n)
{
	if (!p)
		gt_die("a C++ operator new failed");
	agt_alloc(a, fn, p, n);
	return p;
}

/* The operators' names in the ground truth, as the tracer names them (demangled, or by an
 * alias at the same address that comes first in its name): new, new[], delete, delete[],
 * the sized deletes, then the nothrow new, new[], delete, delete[] (NULL: not called) */
enum {
	CXX_NEW,
	CXX_NEWA,
	CXX_DEL,
	CXX_DELA,
	CXX_DEL_SZ,
	CXX_DELA_SZ,
	CXX_NEW_NT,
	CXX_NEWA_NT,
	CXX_DEL_NT,
	CXX_DELA_NT,
	CXX_NAMES
};
static const char *const apimix_cxx_demangled[CXX_NAMES] = {
	"operator new(unsigned long)",
	"operator new[](unsigned long)",
	"operator delete(void*)",
	"operator delete[](void*)",
	"operator delete(void*, unsigned long)",
	"operator delete[](void*, unsigned long)",
};

/* Iteration i's calls of the operators (sizes from gt_size's streams 40 to 45), named */
static void apimix_cxx(struct agt *a, unsigned i, const char *const name[CXX_NAMES])
{
	static const char nt; /* stands for std::nothrow */
	size_t n;
	void *p;

	n = gt_size(i, 40, 1, 700);
	p = apimix_got(a, name[CXX_NEW], apimix_new(n), n);
	apimix_delete(p);
	agt_free(a, name[CXX_DEL], n);
	n = gt_size(i, 41, 1, 700);
	p = apimix_got(a, name[CXX_NEWA], apimix_newarray(n), n);
	apimix_deletearray(p);
	agt_free(a, name[CXX_DELA], n);
	n = gt_size(i, 42, 1, 700);
	p = apimix_got(a, name[CXX_NEW], apimix_new(n), n);
	apimix_delete_sized(p, n);
	agt_free(a, name[CXX_DEL_SZ], n);
	n = gt_size(i, 43, 1, 700);
	p = apimix_got(a, name[CXX_NEWA], apimix_newarray(n), n);
	apimix_deletearray_sized(p, n);
	agt_free(a, name[CXX_DELA_SZ], n);
	if (!name[CXX_NEW_NT])
		return;
	n = gt_size(i, 44, 1, 700);
	p = apimix_got(a, name[CXX_NEW_NT], _ZnwmRKSt9nothrow_t(n, &nt), n);
	_ZdlPvRKSt9nothrow_t(p, &nt);
	agt_free(a, name[CXX_DEL_NT], n);
	n = gt_size(i, 45, 1, 700);
	p = apimix_got(a, name[CXX_NEWA_NT], _ZnamRKSt9nothrow_t(n, &nt), n);
	_ZdaPvRKSt9nothrow_t(p, &nt);
	agt_free(a, name[CXX_DELA_NT], n);
}

/* The window's end: a block above every transient, freed at once (malloc and free, the
 * standard names), then the ground truth */
static void apimix_end(struct agt *a)
{
	struct agt *all[1] = { a };
	void *p = gt_malloc_fn(APIMIX_SUMMIT);

	agt_alloc(a, "malloc", p, APIMIX_SUMMIT);
	gt_free_fn(p);
	agt_free(a, "free", APIMIX_SUMMIT);
	agt_print(all, 1);
}

/* The gated run of window(iters), ITERS from argv[1] (default 50) */
static int apimix_main(int argc, char **argv, void (*window)(unsigned))
{
	unsigned long iters = gt_arg(argc, argv, 1, 50);
	sigset_t set;

	gt_block_signals(&set);
	gt_ready();
	gt_wait_signal(SIGUSR1);
	window((unsigned)iters);
	gt_wait_signal(SIGUSR2);
	return 0;
}

#endif
