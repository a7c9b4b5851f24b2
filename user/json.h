/* json.h: one streaming JSON writer for every JSON the tool prints */
#ifndef MS_JSON_H
#define MS_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define MS_JSON_MAX_DEPTH 16

struct ms_json {
	FILE *f;
	int depth;
	bool first[MS_JSON_MAX_DEPTH]; /* no member written yet at this depth */
};

/* key is the member name inside an object, NULL inside an array or at the top */
void ms_json_init(struct ms_json *j, FILE *f);
void ms_json_open(struct ms_json *j, const char *key);	/* { */
void ms_json_close(struct ms_json *j);			/* } */
void ms_json_array(struct ms_json *j, const char *key); /* [ */
void ms_json_end(struct ms_json *j);			/* ] */
void ms_json_u64(struct ms_json *j, const char *key, uint64_t v);
void ms_json_i64(struct ms_json *j, const char *key, int64_t v);
void ms_json_double(struct ms_json *j, const char *key, double v);
void ms_json_bool(struct ms_json *j, const char *key, bool v);
/* Any bytes: quotes, backslashes and control characters are escaped, bytes that are
 * not valid UTF-8 come out as \u00XX, so the output is always valid JSON. */
void ms_json_str(struct ms_json *j, const char *key, const char *s);
void ms_json_strn(struct ms_json *j, const char *key, const char *s, size_t n);
/* Ends a top-level value with a newline (JSON Lines) */
void ms_json_line(struct ms_json *j);

#endif
