/* fuzz.h: helpers shared by the libFuzzer harnesses (tests/fuzz/fuzz_*.c) */
#ifndef MS_FUZZ_H
#define MS_FUZZ_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* A finding: print what is wrong and abort, so that libFuzzer keeps the input */
#define FZ_CHECK(cond, ...)                                                                        \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "FUZZ CHECK FAILED %s:%d: %s: ", __FILE__, __LINE__,       \
				#cond);                                                            \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* A NUL-terminated heap copy of the input, exactly size + 1 bytes (ASan sees overreads) */
static inline char *fz_cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* An exact-size heap copy (not terminated) */
static inline uint8_t *fz_copy(const uint8_t *data, size_t size)
{
	uint8_t *p = malloc(size ? size : 1);

	if (!p)
		abort();
	memcpy(p, data, size);
	return p;
}

/*
 * The input as a file: one memfd per process, rewritten for every input; path is
 * "/proc/self/fd/N", which open(), libelf and zlib read like any file. The file is
 * truncated first, so no byte of a previous input is left.
 */
static inline const char *fz_file(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char path[64];
	size_t off = 0;

	if (fd < 0) {
		fd = memfd_create("msfuzz", MFD_CLOEXEC);
		if (fd < 0) {
			perror("memfd_create");
			abort();
		}
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0))
		abort();
	while (off < size) {
		ssize_t n = pwrite(fd, data + off, size - off, off);

		if (n <= 0)
			abort();
		off += n;
	}
	return path;
}

/* A private directory for fake /proc or /sys trees, made once per process under $TMPDIR
 * (run.sh points TMPDIR at its scratch directory and removes it) */
static inline const char *fz_tmpdir(void)
{
	static char dir[64];

	if (!dir[0]) {
		const char *t = getenv("TMPDIR");

		snprintf(dir, sizeof(dir), "%s/msfuzz.XXXXXX", t && *t && strlen(t) < 40 ? t : "/tmp");
		if (!mkdtemp(dir)) {
			perror("mkdtemp");
			abort();
		}
	}
	return dir;
}

/* Writes size bytes of data to path (truncating it) */
static inline void fz_write(const char *path, const void *data, size_t size)
{
	FILE *f = fopen(path, "we");

	if (!f) {
		perror(path);
		abort();
	}
	if (size && fwrite(data, 1, size, f) != size)
		abort();
	fclose(f);
}

/* Strict UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing past U+10FFFF): the
 * length of the sequence at s (at most n bytes), or 0 when it is not valid */
static inline size_t fz_utf8_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t len, i;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, cp = c & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

static inline int fz_utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, k;

	while (i < n) {
		k = fz_utf8_len(p + i, n - i);
		if (!k)
			return 0;
		i += k;
	}
	return 1;
}

#endif
