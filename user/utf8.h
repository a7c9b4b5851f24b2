/* utf8.h: UTF-8 validation and repair for the names the tracer prints (comms, cgroups) */
#ifndef MS_UTF8_H
#define MS_UTF8_H

#include <stddef.h>

/*
 * The length (1 to 4) of the well-formed UTF-8 sequence at s, of the n > 0 bytes there, or 0
 * when s[0] begins none: a stray continuation byte, a lead byte without its continuation
 * bytes (or cut short by n), an overlong form, a UTF-16 surrogate, a code point past
 * U+10FFFF (Unicode's table 3-7). An ASCII byte, a control character too, is 1. O(1).
 */
size_t ms_utf8_len(const unsigned char *s, size_t n);

/* What ms_utf8_clean does besides replacing control characters; a bad byte is one that
 * begins no well-formed sequence (ms_utf8_len 0) */
#define MS_UTF8_REPAIR 1u  /* a bad byte becomes U+FFFD (else it is copied as it is) */
#define MS_UTF8_KEEP_NL 2u /* newline is copied (else it is '?' like the other controls) */

/*
 * A name someone else chose, made safe to print: the NUL-terminated in into out (outlen >
 * 0 bytes, always NUL-terminated), every ASCII control character and DEL as '?', and as
 * flags say. Stops before a character that does not fit whole: with MS_UTF8_REPAIR, 3 *
 * strlen(in) + 1 bytes always hold it all, else strlen(in) + 1. Returns the bytes written
 * (without the NUL). O(strlen(in)).
 */
size_t ms_utf8_clean(const char *in, char *out, size_t outlen, unsigned flags);

#endif
