/* launch.c: start a command held before exec until the tracer is ready */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "elfsym.h"
#include "launch.h"

static int resolve(const char *cmd, char *out, size_t len)
{
	const char *path = getenv("PATH"), *p, *end;
	int err = -ENOENT;

	if (strchr(cmd, '/')) {
		snprintf(out, len, "%s", cmd);
		return access(out, X_OK) ? -errno : 0;
	}
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (p = path;; p = end + 1) {
		struct stat st;

		end = strchrnul(p, ':');
		snprintf(out, len, "%.*s/%s", (int)(end - p), end == p ? "." : p, cmd);
		if (end == p)
			snprintf(out, len, "./%s", cmd);
		if (!stat(out, &st) && S_ISREG(st.st_mode)) {
			if (!access(out, X_OK))
				return 0;
			err = -EACCES;
		}
		if (!*end)
			return err;
	}
}

/* The program that runs path: path itself, or the interpreter of its #! line */
static int find_image(const char *path, char *out, size_t len)
{
	char line[PATH_MAX + 2], *s;
	ssize_t n;
	int fd, err;

	err = ms_elf_interp(path, out, len);
	if (err != -ENOEXEC) {
		snprintf(out, len, "%s", path);
		return 0;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, line, sizeof(line) - 1);
	close(fd);
	if (n < 3 || line[0] != '#' || line[1] != '!')
		return -ENOEXEC;
	line[n] = '\0';
	for (s = line + 2; *s == ' ' || *s == '\t'; s++)
		;
	s[strcspn(s, " \t\n")] = '\0';
	snprintf(out, len, "%s", s);
	return 0;
}

int ms_launch_find(struct ms_launch *l, char *const argv[])
{
	int err;

	memset(l, 0, sizeof(*l));
	l->gate = -1;
	err = resolve(argv[0], l->path, sizeof(l->path));
	if (!err)
		err = find_image(l->path, l->image, sizeof(l->image));
	if (!err)
		err = ms_elf_interp(l->image, l->interp, sizeof(l->interp));
	if (err == -ENOENT && l->image[0]) {
		l->interp[0] = '\0'; /* statically linked */
		err = 0;
	}
	return err;
}

int ms_launch_start(struct ms_launch *l, char *const argv[])
{
	int fds[2], err;
	char c;

	if (pipe2(fds, O_CLOEXEC))
		return -errno;
	l->pid = fork();
	if (l->pid < 0) {
		err = -errno;
		close(fds[0]);
		close(fds[1]);
		return err;
	}
	if (l->pid == 0) {
		close(fds[1]);
		/* the tracer's signal settings are not the command's */
		signal(SIGPIPE, SIG_DFL);
		if (read(fds[0], &c, 1) != 1)
			_exit(127); /* the tracer gave up */
		execv(l->path, argv);
		fprintf(stderr, "memscope-bpf: cannot run %s: %s\n", l->path, strerror(errno));
		_exit(127);
	}
	close(fds[0]);
	l->gate = fds[1];
	return 0;
}

int ms_launch_prepare(struct ms_launch *l, char *const argv[])
{
	int err = ms_launch_find(l, argv);

	return err ? err : ms_launch_start(l, argv);
}

int ms_launch_release(struct ms_launch *l)
{
	int err = 0;

	if (l->gate < 0)
		return -EINVAL;
	if (write(l->gate, "g", 1) != 1)
		err = -errno;
	close(l->gate);
	l->gate = -1;
	return err;
}

void ms_launch_abort(struct ms_launch *l)
{
	if (l->gate < 0 || l->pid <= 0)
		return;
	close(l->gate); /* the child reads EOF and exits */
	l->gate = -1;
	waitpid(l->pid, NULL, 0);
}
