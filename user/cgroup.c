/* cgroup.c: a process' cgroup and container, from /proc/PID/cgroup, cached per pid */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cgroup.h"
#include "vec.h"

/* The rank of a line "ID:CONTROLLERS:PATH", split in place (*path set): 0 for the unified
 * hierarchy, 1 for name=systemd's, 2 for one with the memory controller, else -1 */
static int line_rank(char *line, char **path)
{
	char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL, *tok, *save = NULL;
	int rank = -1;

	if (!c2)
		return -1;
	*path = c2 + 1;
	*c1 = *c2 = '\0';
	if (!strcmp(line, "0") && c1 + 1 == c2)
		return 0;
	if (!strcmp(c1 + 1, "name=systemd"))
		return 1;
	for (tok = strtok_r(c1 + 1, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		if (!strcmp(tok, "memory"))
			rank = 2;
	return rank;
}

char *ms_cgroup_parse(const char *text)
{
	char *copy = strdup(text), *line, *path, *save = NULL, *best[3] = { NULL }, *res = NULL;
	unsigned i;
	int rank;

	if (!copy)
		return NULL;
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		rank = line_rank(line, &path);
		if (rank < 0 || best[rank] || !path[0] || !strcmp(path, "/"))
			continue;
		best[rank] = strdup(path);
	}
	free(copy);
	for (i = 0; i < 3; i++) {
		if (!res)
			res = best[i];
		else
			free(best[i]);
	}
	return res;
}

void ms_container_id(const char *path, char id[MS_CONTAINER_ID_LEN + 1])
{
	const char *s = path, *run;

	id[0] = '\0';
	while (*s) {
		for (run = s; (*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f'); s++)
			;
		if (s - run == MS_CONTAINER_ID_LEN) {
			memcpy(id, run, MS_CONTAINER_ID_LEN);
			id[MS_CONTAINER_ID_LEN] = '\0';
		}
		if (s == run)
			s++;
	}
}

void ms_cgroups_read(const struct ms_cgroups *c, pid_t pid, struct ms_cgroup *out)
{
	char file[300], *text = NULL;
	size_t cap = 0;
	FILE *f;

	memset(out, 0, sizeof(*out));
	out->pid = pid;
	snprintf(file, sizeof(file), "%s/%d/cgroup", c->proc_root, (int)pid);
	f = fopen(file, "re");
	if (!f)
		return;
	if (getdelim(&text, &cap, '\0', f) > 0)
		out->path = ms_cgroup_parse(text);
	free(text);
	fclose(f);
	if (out->path)
		ms_container_id(out->path, out->container);
}

void ms_cgroups_init(struct ms_cgroups *c, const char *proc_root)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->proc_root, sizeof(c->proc_root), "%s", proc_root ? proc_root : "/proc");
}

static int by_pid(const void *a, const void *b)
{
	pid_t x = ((const struct ms_cgroup *)a)->pid, y = ((const struct ms_cgroup *)b)->pid;

	return x < y ? -1 : x > y;
}

/* pid's entry in the sorted part, or NULL */
static struct ms_cgroup *find(const struct ms_cgroups *c, pid_t pid)
{
	struct ms_cgroup key = { .pid = pid };

	return c->nsorted ? bsearch(&key, c->v, c->nsorted, sizeof(*c->v), by_pid) : NULL;
}

const struct ms_cgroup *ms_cgroups_find(const struct ms_cgroups *c, pid_t pid)
{
	return find(c, pid);
}

const struct ms_cgroup *ms_cgroups_get(struct ms_cgroups *c, pid_t pid)
{
	struct ms_cgroup *e = find(c, pid);

	if (!e) {
		if (MS_VEC_RESERVE(c->v, c->cap, c->n + 1))
			return NULL;
		e = &c->v[c->n++];
		ms_cgroups_read(c, pid, e);
	}
	e->marked = true;
	return e;
}

void ms_cgroups_end(struct ms_cgroups *c, bool complete)
{
	size_t i, k;

	if (c->n != c->nsorted)
		qsort(c->v, c->n, sizeof(*c->v), by_pid);
	for (i = k = 0; i < c->n; i++) {
		if (complete && !c->v[i].marked) {
			free(c->v[i].path);
			continue;
		}
		c->v[k] = c->v[i];
		c->v[k++].marked = false;
	}
	c->n = c->nsorted = k;
}

void ms_cgroups_drop(struct ms_cgroups *c, pid_t pid)
{
	struct ms_cgroup *e = find(c, pid);

	if (!e)
		return;
	free(e->path);
	memmove(e, e + 1, (c->v + c->n - (e + 1)) * sizeof(*e));
	c->n--;
	c->nsorted--;
}

void ms_cgroups_free(struct ms_cgroups *c)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		free(c->v[i].path);
	free(c->v);
	c->v = NULL;
	c->n = c->cap = c->nsorted = 0;
}
