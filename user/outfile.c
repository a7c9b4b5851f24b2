/* outfile.c: files the tracer writes (-o, --folded, --record), created safely as root */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "outfile.h"

int ms_outfile_create(const char *path)
{
	struct stat st;
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd >= 0)
		return fd;
	if (errno != ELOOP)
		return -errno;
	/* a link: what it points at, neither created nor truncated */
	fd = open(path, O_WRONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
		close(fd);
		return -ELOOP;
	}
	/* a pipe, a terminal, a device: written as they come */
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)) {
		close(fd);
		return -errno;
	}
	return fd;
}

const char *ms_outfile_strerror(int err)
{
	if (err == -ELOOP)
		return "a symbolic link to a file: give the file itself";
	return strerror(-err);
}

FILE *ms_outfile_fopen(const char *path, bool lines)
{
	int fd = ms_outfile_create(path);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;

	if (!f) {
		if (fd >= 0) {
			int e = errno;

			close(fd);
			fd = -e;
		}
		fprintf(stderr, "memscope-bpf: cannot create %s: %s\n", path,
			ms_outfile_strerror(fd));
		errno = -fd;
		return NULL;
	}
	if (lines) {
		static char line_buf[MS_OUT_LINE_BUF]; /* -o's: one such file a run */

		setvbuf(f, line_buf, _IOLBF, sizeof(line_buf));
	}
	return f;
}
