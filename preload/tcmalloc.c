/* tcmalloc.c: libmemscope-preload-tcmalloc.so, gperftools' tcmalloc's own API for
 * --in-process: the tc_ functions the uprobes trace (user/presets.c), forwarded to the next
 * definition (the tcmalloc the command links or preloads). Preloaded only when the command
 * loads a tcmalloc. Its C++ operators, aliases of tc_new, tc_delete, ... (one address: the
 * uprobes see a call by either name), are interposed by their own names too: a C++ program
 * calls those. The nothrow forms' second parameter is a std::nothrow_t reference. */
#define FAMILY_ANCHOR MS_IP_TC_MALLOC
#include "family.h"

static const char *const symbol[MS_IP_NFN] = {
	[MS_IP_TC_MALLOC] = "tc_malloc",
	[MS_IP_TC_CALLOC] = "tc_calloc",
	[MS_IP_TC_REALLOC] = "tc_realloc",
	[MS_IP_TC_FREE] = "tc_free",
	[MS_IP_TC_FREE_SIZED] = "tc_free_sized",
	[MS_IP_TC_POSIX_MEMALIGN] = "tc_posix_memalign",
	[MS_IP_TC_MEMALIGN] = "tc_memalign",
	[MS_IP_TC_VALLOC] = "tc_valloc",
	[MS_IP_TC_PVALLOC] = "tc_pvalloc",
	[MS_IP_TC_MALLOC_SKIP_NEW_HANDLER] = "tc_malloc_skip_new_handler",
	[MS_IP_TC_NEW] = "tc_new",
	[MS_IP_TC_NEWARRAY] = "tc_newarray",
	[MS_IP_TC_NEW_NOTHROW] = "tc_new_nothrow",
	[MS_IP_TC_NEWARRAY_NOTHROW] = "tc_newarray_nothrow",
	[MS_IP_TC_DELETE] = "tc_delete",
	[MS_IP_TC_DELETEARRAY] = "tc_deletearray",
	[MS_IP_TC_DELETE_NOTHROW] = "tc_delete_nothrow",
	[MS_IP_TC_DELETEARRAY_NOTHROW] = "tc_deletearray_nothrow",
	[MS_IP_TC_DELETE_SIZED] = "tc_delete_sized",
	[MS_IP_TC_DELETEARRAY_SIZED] = "tc_deletearray_sized",
	CXX_SYMBOLS,
	CXX_NOTHROW_SYMBOLS,
};

ALLOC(tc_malloc, MS_IP_TC_MALLOC, (size_t size), (size), size)
ALLOC(tc_calloc, MS_IP_TC_CALLOC, (size_t nmemb, size_t size), (nmemb, size),
      ms_shim_product(nmemb, size))
REALLOC(tc_realloc, MS_IP_TC_REALLOC, (void *ptr, size_t size), (ptr, size), ptr, size)
FREE(tc_free, MS_IP_TC_FREE, (void *ptr), (ptr), ptr)
FREE(tc_free_sized, MS_IP_TC_FREE_SIZED, (void *ptr, size_t size), (ptr, size), ptr)
POSIX_MEMALIGN(tc_posix_memalign, MS_IP_TC_POSIX_MEMALIGN)
ALLOC(tc_memalign, MS_IP_TC_MEMALIGN, (size_t align, size_t size), (align, size), size)
ALLOC(tc_valloc, MS_IP_TC_VALLOC, (size_t size), (size), size)
ALLOC(tc_pvalloc, MS_IP_TC_PVALLOC, (size_t size), (size), size)
ALLOC(tc_malloc_skip_new_handler, MS_IP_TC_MALLOC_SKIP_NEW_HANDLER, (size_t size), (size), size)
ALLOC(tc_new, MS_IP_TC_NEW, (size_t size), (size), size)
ALLOC(tc_newarray, MS_IP_TC_NEWARRAY, (size_t size), (size), size)
ALLOC(tc_new_nothrow, MS_IP_TC_NEW_NOTHROW, (size_t size, const void *nt), (size, nt), size)
ALLOC(tc_newarray_nothrow, MS_IP_TC_NEWARRAY_NOTHROW, (size_t size, const void *nt), (size, nt),
      size)
FREE(tc_delete, MS_IP_TC_DELETE, (void *ptr), (ptr), ptr)
FREE(tc_deletearray, MS_IP_TC_DELETEARRAY, (void *ptr), (ptr), ptr)
FREE(tc_delete_nothrow, MS_IP_TC_DELETE_NOTHROW, (void *ptr, const void *nt), (ptr, nt), ptr)
FREE(tc_deletearray_nothrow, MS_IP_TC_DELETEARRAY_NOTHROW, (void *ptr, const void *nt), (ptr, nt),
     ptr)
FREE(tc_delete_sized, MS_IP_TC_DELETE_SIZED, (void *ptr, size_t size), (ptr, size), ptr)
FREE(tc_deletearray_sized, MS_IP_TC_DELETEARRAY_SIZED, (void *ptr, size_t size), (ptr, size), ptr)

CXX_OPERATORS
CXX_NOTHROW_OPERATORS

MS_FAMILY(tcmalloc);
