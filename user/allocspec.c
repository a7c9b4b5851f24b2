/* allocspec.c: parsing of --alloc, --free and --realloc specs */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "allocspec.h"

#define MAX_PARAMS 6 /* arguments passed in registers on x86-64 */

const char *ms_allocspec_option(enum ms_fn_kind kind)
{
	return kind == MS_FN_FREE ? "--free" : kind == MS_FN_REALLOC ? "--realloc" : "--alloc";
}

#define FAIL(...)                                                                                  \
	do {                                                                                       \
		int n_ = snprintf(err, errlen, "%s '%s': ", ms_allocspec_option(kind), text);      \
		if (n_ > 0 && (size_t)n_ < errlen)                                                 \
			snprintf(err + n_, errlen - n_, __VA_ARGS__);                              \
		return -EINVAL;                                                                    \
	} while (0)

static const char *skip_space(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

int ms_allocspec_parse(const char *text, enum ms_fn_kind kind, struct ms_allocspec *spec, char *err,
		       size_t errlen)
{
	const char *s = text, *open, *close, *eq, *colon, *p;
	unsigned nparams = 0;
	size_t len;

	memset(spec, 0, sizeof(*spec));
	spec->kind = kind;
	spec->text = text;
	spec->size_arg = spec->nmemb_arg = spec->ptr_arg = spec->out_arg = MS_ARG_NONE;
	strcpy(spec->allocator, "custom");
	s = skip_space(s);
	open = strchr(s, '(');
	if (!open)
		FAIL("no parameter list: write the function as FUNCTION(ROLE, ...)");
	close = strrchr(s, ')');
	if (!close || close < open)
		FAIL("the parameter list is not closed with ')'");

	/* NAME= in front */
	eq = memchr(s, '=', open - s);
	if (eq) {
		len = eq - s;
		if (!len || len >= sizeof(spec->allocator))
			FAIL("the allocator name before '=' must have 1 to %zu characters",
			     sizeof(spec->allocator) - 1);
		for (p = s; p < eq; p++)
			if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-' && *p != '.')
				FAIL("the allocator name may have letters, digits, '_', '-', '.'");
		memcpy(spec->allocator, s, len);
		spec->allocator[len] = '\0';
		s = eq + 1;
	}

	/* OBJECT: in front: a single ':' (C++ scopes are '::') */
	for (colon = s; colon < open; colon++) {
		if (*colon != ':')
			continue;
		if (colon[1] == ':') {
			colon++;
			continue;
		}
		break;
	}
	if (colon < open) {
		len = colon - s;
		if (!len || s[0] != '/')
			FAIL("the object before ':' must be an absolute path");
		if (len >= sizeof(spec->object))
			FAIL("the object path is too long");
		memcpy(spec->object, s, len);
		spec->object[len] = '\0';
		s = colon + 1;
	}

	/* FUNCTION */
	s = skip_space(s);
	len = open - s;
	while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (!len)
		FAIL("no function name before '('");
	if (len >= sizeof(spec->function))
		FAIL("the function name is too long");
	for (p = s; p < s + len; p++)
		if (isspace((unsigned char)*p) || *p == '=' || *p == ',')
			FAIL("'%c' in the function name", *p);
	memcpy(spec->function, s, len);
	spec->function[len] = '\0';

	/* the roles */
	p = skip_space(open + 1);
	if (p == close)
		FAIL("an empty parameter list: name each parameter's role (size, nmemb, ptr, "
		     "out, or _)");
	while (p < close) {
		const char *end = p;
		uint8_t *slot = NULL;
		size_t n;

		while (end < close && *end != ',')
			end++;
		n = end - p;
		while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (nparams == MAX_PARAMS)
			FAIL("more than %d parameters: only register arguments can be read",
			     MAX_PARAMS);
		if (n == 1 && p[0] == '_')
			slot = NULL;
		else if (n == 4 && !strncmp(p, "size", 4))
			slot = &spec->size_arg;
		else if (n == 5 && !strncmp(p, "nmemb", 5))
			slot = &spec->nmemb_arg;
		else if (n == 3 && !strncmp(p, "ptr", 3))
			slot = &spec->ptr_arg;
		else if (n == 3 && !strncmp(p, "out", 3))
			slot = &spec->out_arg;
		else if (!n)
			FAIL("parameter %u is empty", nparams + 1);
		else
			FAIL("unknown role '%.*s' for parameter %u (roles: size, nmemb, ptr, out, _)",
			     (int)n, p, nparams + 1);
		if (slot) {
			if (*slot != MS_ARG_NONE)
				FAIL("role '%.*s' given twice", (int)n, p);
			*slot = nparams;
		}
		nparams++;
		p = end < close ? skip_space(end + 1) : end;
		if (end < close && p == close)
			FAIL("a parameter is missing after the last ','");
	}

	/* =FIXED after the list */
	s = skip_space(close + 1);
	if (*s == '=') {
		char *end;

		s = skip_space(s + 1);
		errno = 0;
		spec->fixed_size = strtoull(s, &end, 0);
		if (errno || end == s || *skip_space(end) || !spec->fixed_size || s[0] == '-')
			FAIL("'=' must be followed by a fixed block size in bytes");
	} else if (*s) {
		FAIL("unexpected '%s' after the parameter list", s);
	}

	/* what each kind needs */
	switch (kind) {
	case MS_FN_ALLOC:
		if (spec->ptr_arg != MS_ARG_NONE)
			FAIL("an allocation takes no 'ptr' (use --realloc or --free)");
		if (spec->size_arg == MS_ARG_NONE && !spec->fixed_size)
			FAIL("no 'size' parameter: name it, or give a fixed size as FUNC(...)=BYTES");
		if (spec->size_arg != MS_ARG_NONE && spec->fixed_size)
			FAIL("both a 'size' parameter and a fixed size");
		if (spec->nmemb_arg != MS_ARG_NONE && spec->size_arg == MS_ARG_NONE)
			FAIL("'nmemb' without 'size'");
		break;
	case MS_FN_FREE:
		if (spec->ptr_arg == MS_ARG_NONE)
			FAIL("no 'ptr' parameter: name the block being freed");
		if (spec->size_arg != MS_ARG_NONE || spec->nmemb_arg != MS_ARG_NONE ||
		    spec->out_arg != MS_ARG_NONE || spec->fixed_size)
			FAIL("a free takes only 'ptr' and '_'");
		break;
	case MS_FN_REALLOC:
		if (spec->ptr_arg == MS_ARG_NONE || spec->size_arg == MS_ARG_NONE)
			FAIL("a realloc needs 'ptr' and 'size'");
		if (spec->out_arg != MS_ARG_NONE || spec->fixed_size)
			FAIL("a realloc returns its block: no 'out' or fixed size");
		break;
	default:
		FAIL("not an allocator function kind");
	}
	return 0;
}

int ms_allocspec_demangled(const struct ms_allocspec *spec)
{
	return strstr(spec->function, "::") || strchr(spec->function, '<') ||
	       strchr(spec->function, '~');
}
