/* utf8.c: UTF-8 validation and repair for the names the tracer prints */
#include <stdbool.h>
#include <string.h>
#include "utf8.h"

size_t ms_utf8_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t len, k;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	if (len > n)
		return 0;
	for (k = 1; k < len; k++)
		if ((s[k] & 0xc0) != 0x80)
			return 0;
	if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xf0 && s[1] < 0x90))
		return 0; /* overlong */
	if ((c == 0xed && s[1] > 0x9f) || (c == 0xf4 && s[1] > 0x8f))
		return 0; /* a UTF-16 surrogate, past U+10FFFF */
	return len;
}

size_t ms_utf8_clean(const char *in, char *out, size_t outlen, unsigned flags)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t n = strlen(in), o = 0, len;

	for (; n; s += len, n -= len) {
		const char *put = (const char *)s;
		size_t w = len = ms_utf8_len(s, n);
		bool control = len == 1 && (*s < 0x20 || *s == 0x7f);

		if (!len) {
			len = w = 1;
			if (flags & MS_UTF8_REPAIR) {
				put = "\xef\xbf\xbd";
				w = 3;
			}
		} else if (control && !(*s == '\n' && (flags & MS_UTF8_KEEP_NL))) {
			put = "?";
		}
		if (o + w >= outlen)
			break;
		memcpy(out + o, put, w);
		o += w;
	}
	out[o] = '\0';
	return o;
}
