/* stdcxx.c: libmemscope-preload-stdcxx.so, libstdc++'s operator new and delete for
 * --in-process --stacks: the forms the uprobes trace with --stacks (user/presets.c's
 * libstdc++ preset), so that an allocation's site is the caller of operator new, not
 * operator new itself (libstdc++ keeps no frame pointer). Preloaded only with --stacks, when
 * the command loads libstdc++ and no allocator that defines the operators (their families
 * interpose those). The operators call malloc and free: one allocator with them (group), the
 * inner call not recorded, as the uprobes count it. An operator whose next definition is not
 * libstdc++'s (the program's own, another library's) is passed on. */
#define FAMILY_ANCHOR MS_IP_CXX_NEW
#define FAMILY_GROUP MS_IP_MALLOC
#include "family.h"

static const char *const symbol[MS_IP_NFN] = {
	CXX_SYMBOLS,
	[MS_IP_CXX_NEW_NOTHROW] = "_ZnwmRKSt9nothrow_t",
	[MS_IP_CXX_NEWARRAY_NOTHROW] = "_ZnamRKSt9nothrow_t",
	[MS_IP_CXX_NEW_ALIGNED] = "_ZnwmSt11align_val_t",
	[MS_IP_CXX_NEWARRAY_ALIGNED] = "_ZnamSt11align_val_t",
	[MS_IP_CXX_DELETE_ALIGNED] = "_ZdlPvSt11align_val_t",
	[MS_IP_CXX_DELETEARRAY_ALIGNED] = "_ZdaPvSt11align_val_t",
	[MS_IP_CXX_DELETE_SIZED_ALIGNED] = "_ZdlPvmSt11align_val_t",
	[MS_IP_CXX_DELETEARRAY_SIZED_ALIGNED] = "_ZdaPvmSt11align_val_t",
};

CXX_OPERATORS
ALLOC(_ZnwmRKSt9nothrow_t, MS_IP_CXX_NEW_NOTHROW, (size_t size, const void *nt), (size, nt), size)
ALLOC(_ZnamRKSt9nothrow_t, MS_IP_CXX_NEWARRAY_NOTHROW, (size_t size, const void *nt), (size, nt),
      size)
/* std::align_val_t is a size_t */
ALLOC(_ZnwmSt11align_val_t, MS_IP_CXX_NEW_ALIGNED, (size_t size, size_t align), (size, align), size)
ALLOC(_ZnamSt11align_val_t, MS_IP_CXX_NEWARRAY_ALIGNED, (size_t size, size_t align), (size, align),
      size)
FREE(_ZdlPvSt11align_val_t, MS_IP_CXX_DELETE_ALIGNED, (void *ptr, size_t align), (ptr, align), ptr)
FREE(_ZdaPvSt11align_val_t, MS_IP_CXX_DELETEARRAY_ALIGNED, (void *ptr, size_t align), (ptr, align),
     ptr)
FREE(_ZdlPvmSt11align_val_t, MS_IP_CXX_DELETE_SIZED_ALIGNED, (void *ptr, size_t size, size_t align),
     (ptr, size, align), ptr)
FREE(_ZdaPvmSt11align_val_t, MS_IP_CXX_DELETEARRAY_SIZED_ALIGNED,
     (void *ptr, size_t size, size_t align), (ptr, size, align), ptr)

MS_FAMILY(stdcxx);
