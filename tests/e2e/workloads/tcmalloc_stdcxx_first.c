// build: -Wl,--no-as-needed -lstdc++ -ltcmalloc
/* tcmalloc_stdcxx_first.c: tcmalloc_api linked after libstdc++ (-lstdc++ first): the C++
 * operators it calls are libstdc++'s, which allocate with malloc (tcmalloc's). The
 * in-process library's operators find libstdc++'s next and pass the calls on: their malloc
 * and free are the calls, as the uprobes see them. */
#include "apimix.h"

static const char *const tc_cxx_over_malloc[CXX_NAMES] = {
	"malloc", "malloc", "free", "free", "free", "free", "malloc", "malloc", "free", "free",
};
#define TC_CXX_NAMES tc_cxx_over_malloc
#include "tcmalloc_api.c"
