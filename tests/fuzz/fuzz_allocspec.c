/* fuzz_allocspec.c: --alloc, --free and --realloc values (user input), every kind; the
 * first byte picks the kind and the size of the error buffer, the rest is the spec */
#include <string.h>
#include "allocspec.h"
#include "fuzz.h"

static void check_arg(uint8_t a, const char *role)
{
	FZ_CHECK(a < 6 || a == MS_ARG_NONE, "%s argument %u", role, a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t errlens[4] = { 256, 1, 24, 4096 };
	struct ms_allocspec spec;
	enum ms_fn_kind kind;
	size_t errlen;
	char *text, *err;
	int rc;

	if (!size)
		return 0;
	/* kinds 0 and 4 (DLSTATE) are not specs: they must be refused, not crash */
	kind = (enum ms_fn_kind)(data[0] % 5);
	errlen = errlens[(data[0] >> 3) & 3];
	text = fz_cstr(data + 1, size - 1);
	err = malloc(errlen); /* exactly errlen: ASan catches a write past it */
	if (!err)
		abort();
	memset(err, 'X', errlen);
	rc = ms_allocspec_parse(text, kind, &spec, err, errlen);
	FZ_CHECK(rc == 0 || rc == -EINVAL, "returned %d", rc);
	FZ_CHECK(spec.text == text, "text");
	FZ_CHECK(memchr(spec.allocator, '\0', sizeof(spec.allocator)), "allocator not terminated");
	FZ_CHECK(memchr(spec.object, '\0', sizeof(spec.object)), "object not terminated");
	FZ_CHECK(memchr(spec.function, '\0', sizeof(spec.function)), "function not terminated");
	if (rc) {
		FZ_CHECK(memchr(err, '\0', errlen), "error message not terminated");
		FZ_CHECK(errlen < 24 || !strncmp(err, "--", 2), "error message: %s", err);
	} else {
		FZ_CHECK(kind == MS_FN_ALLOC || kind == MS_FN_FREE || kind == MS_FN_REALLOC,
			 "kind %d accepted", kind);
		FZ_CHECK(spec.kind == kind, "kind");
		FZ_CHECK(spec.function[0], "empty function");
		FZ_CHECK(!strpbrk(spec.function, " \t=,"), "function '%s'", spec.function);
		FZ_CHECK(!spec.object[0] || spec.object[0] == '/', "object '%s'", spec.object);
		FZ_CHECK(spec.allocator[0], "empty allocator name");
		check_arg(spec.size_arg, "size");
		check_arg(spec.nmemb_arg, "nmemb");
		check_arg(spec.ptr_arg, "ptr");
		check_arg(spec.out_arg, "out");
		switch (kind) {
		case MS_FN_ALLOC:
			FZ_CHECK(spec.ptr_arg == MS_ARG_NONE, "alloc with ptr");
			FZ_CHECK((spec.size_arg == MS_ARG_NONE) != !spec.fixed_size,
				 "alloc needs exactly one of size and a fixed size");
			break;
		case MS_FN_FREE:
			FZ_CHECK(spec.ptr_arg != MS_ARG_NONE && spec.size_arg == MS_ARG_NONE &&
					 !spec.fixed_size,
				 "free");
			break;
		default:
			FZ_CHECK(spec.ptr_arg != MS_ARG_NONE && spec.size_arg != MS_ARG_NONE,
				 "realloc");
		}
		rc = ms_allocspec_demangled(&spec);
		(void)rc;
	}
	free(err);
	free(text);
	return 0;
}
