/* fuzz_json_string.c: strings from other processes (process names, paths, symbols) in the
 * JSON output. The writer's output is parsed back by a strict decoder written here: it
 * must be valid JSON (RFC 8259: control characters escaped, valid UTF-8), DEL escaped
 * too, and it must round-trip: valid UTF-8 comes back byte for byte, and every other
 * byte as the \u00XX escape of itself. Both as a value and as an object key. */
#include <stdbool.h>
#include <string.h>
#include "fuzz.h"
#include "json.h"

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static size_t put_utf8(unsigned char *o, uint32_t cp)
{
	if (cp < 0x80) {
		o[0] = cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = 0xc0 | cp >> 6;
		o[1] = 0x80 | (cp & 0x3f);
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = 0xe0 | cp >> 12;
		o[1] = 0x80 | ((cp >> 6) & 0x3f);
		o[2] = 0x80 | (cp & 0x3f);
		return 3;
	}
	o[0] = 0xf0 | cp >> 18;
	o[1] = 0x80 | ((cp >> 12) & 0x3f);
	o[2] = 0x80 | ((cp >> 6) & 0x3f);
	o[3] = 0x80 | (cp & 0x3f);
	return 4;
}

struct decoded {
	unsigned char *text; /* JSON semantics: code points as UTF-8 */
	size_t ntext;
	unsigned char *bytes; /* the writer's inverse: \u0080-\u00ff back to one byte */
	size_t nbytes;
};

/* Decodes the JSON string at *pp (its opening quote) up to its closing quote, which
 * *pp is left after. Aborts on anything that is not valid JSON. */
static void decode(const unsigned char **pp, const unsigned char *end, struct decoded *d)
{
	const unsigned char *p = *pp;

	FZ_CHECK(p < end && *p == '"', "no opening quote");
	p++;
	for (;;) {
		FZ_CHECK(p < end, "unterminated string");
		if (*p == '"')
			break;
		FZ_CHECK(*p >= 0x20, "raw control character 0x%02x", *p);
		FZ_CHECK(*p != 0x7f, "raw DEL");
		if (*p == '\\') {
			uint32_t cp = 0;
			int k, h;

			FZ_CHECK(p + 1 < end, "escape at the end");
			switch (p[1]) {
			case '"':
			case '\\':
			case '/':
				cp = p[1];
				break;
			case 'b':
				cp = '\b';
				break;
			case 'f':
				cp = '\f';
				break;
			case 'n':
				cp = '\n';
				break;
			case 'r':
				cp = '\r';
				break;
			case 't':
				cp = '\t';
				break;
			case 'u':
				FZ_CHECK(p + 6 <= end, "short \\u escape");
				for (k = 2; k < 6; k++) {
					h = hexval(p[k]);
					FZ_CHECK(h >= 0, "bad hex digit in \\u escape");
					cp = cp << 4 | h;
				}
				/* the writer escapes single bytes only, never a surrogate */
				FZ_CHECK(cp < 0xd800 || cp > 0xdfff, "surrogate escape \\u%04x", cp);
				p += 4;
				break;
			default:
				FZ_CHECK(0, "invalid escape \\%c", p[1]);
			}
			p += 2;
			d->ntext += put_utf8(d->text + d->ntext, cp);
			if (cp < 0x100)
				d->bytes[d->nbytes++] = cp;
			else
				d->nbytes += put_utf8(d->bytes + d->nbytes, cp);
			continue;
		}
		{
			size_t n = fz_utf8_len(p, end - p);

			FZ_CHECK(n, "invalid UTF-8 in the output at byte 0x%02x", *p);
			memcpy(d->text + d->ntext, p, n);
			memcpy(d->bytes + d->nbytes, p, n);
			d->ntext += n;
			d->nbytes += n;
			p += n;
		}
	}
	*pp = p + 1;
}

static void check(const char *what, const unsigned char *in, size_t n, const struct decoded *d)
{
	FZ_CHECK(d->nbytes == n && !memcmp(d->bytes, in, n),
		 "%s: the bytes do not round-trip (%zu in, %zu out)", what, n, d->nbytes);
	if (fz_utf8_valid((const char *)in, n))
		FZ_CHECK(d->ntext == n && !memcmp(d->text, in, n),
			 "%s: valid UTF-8 does not come back as itself", what);
}

static void decoded_init(struct decoded *d, size_t n)
{
	/* every input byte decodes to at most 4 bytes */
	d->text = malloc(4 * n + 4);
	d->bytes = malloc(4 * n + 4);
	if (!d->text || !d->bytes)
		abort();
	d->ntext = d->nbytes = 0;
}

static void decoded_free(struct decoded *d)
{
	free(d->text);
	free(d->bytes);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = NULL, *key = fz_cstr(data, size);
	const unsigned char *p, *end;
	struct decoded v, k;
	size_t len = 0, klen = strlen(key);
	struct ms_json j;
	FILE *f;

	/* a top-level string value, then an object keyed by the input (up to a NUL) */
	f = open_memstream(&buf, &len);
	if (!f)
		abort();
	ms_json_init(&j, f);
	ms_json_strn(&j, NULL, (const char *)data, size);
	ms_json_line(&j);
	ms_json_open(&j, NULL);
	ms_json_str(&j, key, key);
	ms_json_strn(&j, "v", (const char *)data, size);
	ms_json_close(&j);
	ms_json_line(&j);
	if (fclose(f))
		abort();

	p = (const unsigned char *)buf;
	end = p + len;
	decoded_init(&v, size);
	decode(&p, end, &v);
	check("value", data, size, &v);
	FZ_CHECK(p < end && *p == '\n', "no newline after the value");
	p++;
	FZ_CHECK(p < end && *p == '{', "no object");
	p++;
	decoded_init(&k, klen);
	decode(&p, end, &k);
	check("key", (const unsigned char *)key, klen, &k);
	decoded_free(&k);
	FZ_CHECK(p < end && *p == ':', "no ':' after the key");
	p++;
	decoded_init(&k, klen);
	decode(&p, end, &k);
	check("C string value", (const unsigned char *)key, klen, &k);
	decoded_free(&k);
	FZ_CHECK(p + 4 < end && !memcmp(p, ",\"v\":", 5), "no second member");
	p += 5;
	decoded_free(&v);
	decoded_init(&v, size);
	decode(&p, end, &v);
	check("member value", data, size, &v);
	FZ_CHECK(end - p == 2 && p[0] == '}' && p[1] == '\n', "trailing bytes after the object");
	decoded_free(&v);
	free(buf);
	free(key);
	return 0;
}
