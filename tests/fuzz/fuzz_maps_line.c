/* fuzz_maps_line.c: /proc/PID/maps lines (paths are whatever a process mapped: spaces,
 * "(deleted)", newlines, huge numbers), one line and a whole file */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include "fuzz.h"
#include "procmaps.h"

static int each(const struct ms_mapping *m, void *ctx)
{
	unsigned *n = ctx;

	/* the documented filter: executable, file-backed, absolute path */
	FZ_CHECK(m->exec && m->inode && m->path[0] == '/', "a mapping the filter should drop");
	FZ_CHECK(strlen(m->path) < 1 << 20, "path");
	return ++*n >= 1000; /* a non-zero return stops the walk */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ms_mapping m;
	char *line = fz_cstr(data, size), path[128];
	size_t len = strcspn(line, "\n"); /* the parser cuts the line at its newline */
	unsigned n = 0;
	int err;

	err = ms_maps_parse_line(line, &m);
	FZ_CHECK(err == 0 || err == -EINVAL, "returned %d", err);
	if (!err) {
		size_t plen;

		FZ_CHECK(m.path >= line && m.path <= line + len, "path outside the line");
		plen = strlen(m.path);
		FZ_CHECK(m.path + plen <= line + len, "path runs past the line");
		FZ_CHECK(!memchr(m.path, '\n', plen), "newline left in the path");
		if (m.deleted) /* the suffix is cut off */
			FZ_CHECK(len > 10 && line[len - 10] == '\0', "deleted suffix not removed");
	}
	free(line);

	/* the same bytes as PROC/1/maps, through the line reader */
	snprintf(path, sizeof(path), "%s/1", fz_tmpdir());
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/1/maps", fz_tmpdir());
	fz_write(path, data, size);
	err = ms_maps_for_each_exec(fz_tmpdir(), 1, each, &n);
	FZ_CHECK(err == 0 || err == 1, "for_each returned %d", err);
	return 0;
}
