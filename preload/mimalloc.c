/* mimalloc.c: libmemscope-preload-mimalloc.so, mimalloc's own API for --in-process: the mi_
 * functions the uprobes trace (user/presets.c), forwarded to the next definition (the
 * mimalloc the command links or preloads). Preloaded only when the command loads a
 * mimalloc. Its C++ operators new, new[], delete, delete[] and the sized deletes, aliases of
 * mi_new, mi_free and mi_free_size, are interposed by their own names too. A heap
 * (mi_heap_t *) is only passed on. */
#define FAMILY_ANCHOR MS_IP_MI_MALLOC
#include "family.h"

static const char *const symbol[MS_IP_NFN] = {
	[MS_IP_MI_MALLOC] = "mi_malloc",
	[MS_IP_MI_ZALLOC] = "mi_zalloc",
	[MS_IP_MI_MALLOC_SMALL] = "mi_malloc_small",
	[MS_IP_MI_CALLOC] = "mi_calloc",
	[MS_IP_MI_MALLOCN] = "mi_mallocn",
	[MS_IP_MI_REALLOC] = "mi_realloc",
	[MS_IP_MI_REALLOCF] = "mi_reallocf",
	[MS_IP_MI_REALLOCN] = "mi_reallocn",
	[MS_IP_MI_FREE] = "mi_free",
	[MS_IP_MI_FREE_SIZE] = "mi_free_size",
	[MS_IP_MI_FREE_ALIGNED] = "mi_free_aligned",
	[MS_IP_MI_MALLOC_ALIGNED] = "mi_malloc_aligned",
	[MS_IP_MI_ZALLOC_ALIGNED] = "mi_zalloc_aligned",
	[MS_IP_MI_CALLOC_ALIGNED] = "mi_calloc_aligned",
	[MS_IP_MI_REALLOC_ALIGNED] = "mi_realloc_aligned",
	[MS_IP_MI_POSIX_MEMALIGN] = "mi_posix_memalign",
	[MS_IP_MI_ALIGNED_ALLOC] = "mi_aligned_alloc",
	[MS_IP_MI_MEMALIGN] = "mi_memalign",
	[MS_IP_MI_VALLOC] = "mi_valloc",
	[MS_IP_MI_PVALLOC] = "mi_pvalloc",
	[MS_IP_MI_NEW] = "mi_new",
	[MS_IP_MI_NEW_NOTHROW] = "mi_new_nothrow",
	[MS_IP_MI_HEAP_MALLOC] = "mi_heap_malloc",
	[MS_IP_MI_HEAP_ZALLOC] = "mi_heap_zalloc",
	[MS_IP_MI_HEAP_CALLOC] = "mi_heap_calloc",
	[MS_IP_MI_HEAP_REALLOC] = "mi_heap_realloc",
	CXX_SYMBOLS,
};

ALLOC(mi_malloc, MS_IP_MI_MALLOC, (size_t size), (size), size)
ALLOC(mi_zalloc, MS_IP_MI_ZALLOC, (size_t size), (size), size)
ALLOC(mi_malloc_small, MS_IP_MI_MALLOC_SMALL, (size_t size), (size), size)
ALLOC(mi_calloc, MS_IP_MI_CALLOC, (size_t count, size_t size), (count, size),
      ms_shim_product(count, size))
ALLOC(mi_mallocn, MS_IP_MI_MALLOCN, (size_t count, size_t size), (count, size),
      ms_shim_product(count, size))
REALLOC(mi_realloc, MS_IP_MI_REALLOC, (void *ptr, size_t size), (ptr, size), ptr, size)
REALLOC(mi_reallocf, MS_IP_MI_REALLOCF, (void *ptr, size_t size), (ptr, size), ptr, size)
REALLOC(mi_reallocn, MS_IP_MI_REALLOCN, (void *ptr, size_t count, size_t size), (ptr, count, size),
	ptr, ms_shim_product(count, size))
FREE(mi_free, MS_IP_MI_FREE, (void *ptr), (ptr), ptr)
FREE(mi_free_size, MS_IP_MI_FREE_SIZE, (void *ptr, size_t size), (ptr, size), ptr)
FREE(mi_free_aligned, MS_IP_MI_FREE_ALIGNED, (void *ptr, size_t align), (ptr, align), ptr)
ALLOC(mi_malloc_aligned, MS_IP_MI_MALLOC_ALIGNED, (size_t size, size_t align), (size, align), size)
ALLOC(mi_zalloc_aligned, MS_IP_MI_ZALLOC_ALIGNED, (size_t size, size_t align), (size, align), size)
ALLOC(mi_calloc_aligned, MS_IP_MI_CALLOC_ALIGNED, (size_t count, size_t size, size_t align),
      (count, size, align), ms_shim_product(count, size))
REALLOC(mi_realloc_aligned, MS_IP_MI_REALLOC_ALIGNED, (void *ptr, size_t size, size_t align),
	(ptr, size, align), ptr, size)
POSIX_MEMALIGN(mi_posix_memalign, MS_IP_MI_POSIX_MEMALIGN)
ALLOC(mi_aligned_alloc, MS_IP_MI_ALIGNED_ALLOC, (size_t align, size_t size), (align, size), size)
ALLOC(mi_memalign, MS_IP_MI_MEMALIGN, (size_t align, size_t size), (align, size), size)
ALLOC(mi_valloc, MS_IP_MI_VALLOC, (size_t size), (size), size)
ALLOC(mi_pvalloc, MS_IP_MI_PVALLOC, (size_t size), (size), size)
ALLOC(mi_new, MS_IP_MI_NEW, (size_t size), (size), size)
ALLOC(mi_new_nothrow, MS_IP_MI_NEW_NOTHROW, (size_t size), (size), size)
ALLOC(mi_heap_malloc, MS_IP_MI_HEAP_MALLOC, (void *heap, size_t size), (heap, size), size)
ALLOC(mi_heap_zalloc, MS_IP_MI_HEAP_ZALLOC, (void *heap, size_t size), (heap, size), size)
ALLOC(mi_heap_calloc, MS_IP_MI_HEAP_CALLOC, (void *heap, size_t count, size_t size),
      (heap, count, size), ms_shim_product(count, size))
REALLOC(mi_heap_realloc, MS_IP_MI_HEAP_REALLOC, (void *heap, void *ptr, size_t size),
	(heap, ptr, size), ptr, size)

CXX_OPERATORS

MS_FAMILY(mimalloc);
