/* json.c: streaming JSON writer */
#include <inttypes.h>
#include <math.h>
#include <string.h>
#include "json.h"
#include "utf8.h"

void ms_json_init(struct ms_json *j, FILE *f)
{
	memset(j, 0, sizeof(*j));
	j->f = f;
	j->first[0] = true;
}

static void put_string(FILE *f, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;

	fputc('"', f);
	while (p < end) {
		unsigned c = *p;
		size_t len;

		if (c == '"' || c == '\\') {
			fputc('\\', f);
			fputc(c, f);
			p++;
			continue;
		}
		if (c < 0x20 || c == 0x7f) {
			switch (c) {
			case '\n':
				fputs("\\n", f);
				break;
			case '\t':
				fputs("\\t", f);
				break;
			case '\r':
				fputs("\\r", f);
				break;
			default:
				fprintf(f, "\\u%04x", c);
			}
			p++;
			continue;
		}
		if (c < 0x80) {
			fputc(c, f);
			p++;
			continue;
		}
		/* a well-formed UTF-8 sequence passes through, anything else is escaped */
		len = ms_utf8_len(p, end - p);
		if (!len) {
			fprintf(f, "\\u%04x", c);
			p++;
			continue;
		}
		fwrite(p, 1, len, f);
		p += len;
	}
	fputc('"', f);
}

static void member(struct ms_json *j, const char *key)
{
	if (!j->first[j->depth])
		fputc(',', j->f);
	j->first[j->depth] = false;
	if (key) {
		put_string(j->f, key, strlen(key));
		fputc(':', j->f);
	}
}

static void push(struct ms_json *j, const char *key, char c)
{
	member(j, key);
	fputc(c, j->f);
	if (j->depth < MS_JSON_MAX_DEPTH - 1)
		j->depth++;
	j->first[j->depth] = true;
}

static void pop(struct ms_json *j, char c)
{
	fputc(c, j->f);
	if (j->depth > 0)
		j->depth--;
}

void ms_json_open(struct ms_json *j, const char *key)
{
	push(j, key, '{');
}

void ms_json_close(struct ms_json *j)
{
	pop(j, '}');
}

void ms_json_array(struct ms_json *j, const char *key)
{
	push(j, key, '[');
}

void ms_json_end(struct ms_json *j)
{
	pop(j, ']');
}

void ms_json_u64(struct ms_json *j, const char *key, uint64_t v)
{
	member(j, key);
	fprintf(j->f, "%" PRIu64, v);
}

void ms_json_i64(struct ms_json *j, const char *key, int64_t v)
{
	member(j, key);
	fprintf(j->f, "%" PRId64, v);
}

void ms_json_double(struct ms_json *j, const char *key, double v)
{
	member(j, key);
	if (isfinite(v))
		fprintf(j->f, "%.10g", v);
	else
		fputs("null", j->f);
}

void ms_json_bool(struct ms_json *j, const char *key, bool v)
{
	member(j, key);
	fputs(v ? "true" : "false", j->f);
}

void ms_json_strn(struct ms_json *j, const char *key, const char *s, size_t n)
{
	member(j, key);
	put_string(j->f, s, n);
}

void ms_json_str(struct ms_json *j, const char *key, const char *s)
{
	ms_json_strn(j, key, s, strlen(s));
}

void ms_json_line(struct ms_json *j)
{
	fputc('\n', j->f);
	j->depth = 0;
	j->first[0] = true;
}
