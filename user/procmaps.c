/* procmaps.c: /proc/PID/maps parsing */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "procmaps.h"

static int parse_hex(const char **s, uint64_t *v)
{
	char *end;

	errno = 0;
	*v = strtoull(*s, &end, 16);
	if (end == *s || errno)
		return -EINVAL;
	*s = end;
	return 0;
}

int ms_maps_parse_line(char *line, struct ms_mapping *m)
{
	static const char deleted[] = " (deleted)";
	const char *s = line;
	uint64_t major, minor;
	char *end;
	size_t n;

	memset(m, 0, sizeof(*m));
	n = strcspn(line, "\n");
	line[n] = '\0';
	if (parse_hex(&s, &m->start) || *s++ != '-' || parse_hex(&s, &m->end) || *s++ != ' ')
		return -EINVAL;
	if (strlen(s) < 5 || s[4] != ' ')
		return -EINVAL;
	m->exec = s[2] == 'x';
	s += 5;
	if (parse_hex(&s, &m->offset) || *s++ != ' ')
		return -EINVAL;
	if (parse_hex(&s, &major) || *s++ != ':' || parse_hex(&s, &minor) || *s++ != ' ')
		return -EINVAL;
	m->dev_major = major;
	m->dev_minor = minor;
	errno = 0;
	m->inode = strtoull(s, &end, 10);
	if (end == s || errno || (*end != ' ' && *end != '\0'))
		return -EINVAL;
	s = end;
	while (*s == ' ')
		s++;
	m->path = s;
	n = strlen(s);
	if (n > sizeof(deleted) - 1 && !strcmp(s + n - (sizeof(deleted) - 1), deleted)) {
		m->deleted = true;
		line[(s - line) + n - (sizeof(deleted) - 1)] = '\0';
	}
	return 0;
}

int ms_maps_for_each_exec(const char *proc_root, pid_t pid, ms_maps_fn fn, void *ctx)
{
	char path[64], *line = NULL;
	size_t cap = 0;
	struct ms_mapping m;
	FILE *f;
	int err = 0;

	snprintf(path, sizeof(path), "%s/%d/maps", proc_root, (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		if (ms_maps_parse_line(line, &m))
			continue;
		if (!m.exec || m.inode == 0 || m.path[0] != '/')
			continue;
		err = fn(&m, ctx);
		if (err)
			break;
	}
	free(line);
	fclose(f);
	return err;
}
