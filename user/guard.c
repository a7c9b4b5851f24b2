/* guard.c: a process that outlives the tracer and lets go the processes it stopped */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>
#include <linux/types.h>
#include <sys/syscall.h>
#include <bpf/bpf.h>
#include "guard.h"

#define GUARD_WAIT_MS 10000 /* the most a dying tracer takes to close its files */
#define GUARD_BYE 'x'	    /* the tracer ended normally: nothing to do */

int ms_guard_release(int pids_fd)
{
	__u32 key, next, *prev = NULL;
	int n = 0;

	while (!bpf_map_get_next_key(pids_fd, prev, &next)) {
		n += !kill((pid_t)next, SIGCONT);
		key = next;
		prev = &key;
	}
	return n;
}

/* The guard: waits for the tracer's end, then lets its processes go. Never returns. */
static void guard(int rd, int pids_fd, pid_t tracer)
{
	struct pollfd p = { .fd = rd, .events = POLLIN };
	char c = 0;
	int fd, pidfd;

	setsid(); /* no terminal's SIGINT, SIGTSTP or SIGHUP */
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGUSR1, SIG_IGN);
	/* nothing of the tracer's but these two: no probe, no ring, not its stdout */
	fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
	}
	for (fd = 3; fd < 1024; fd++)
		if (fd != rd && fd != pids_fd)
			close(fd);
	pidfd = syscall(SYS_pidfd_open, tracer, 0);
	if (getppid() != tracer) /* it died before the pidfd could see it */
		pidfd = -1;
	while (poll(&p, 1, -1) < 0 && errno == EINTR)
		;
	if (read(rd, &c, 1) == 1 && c == GUARD_BYE)
		_exit(0);
	/* its files (its probes' links) are closed before it counts as exited */
	if (pidfd >= 0) {
		p = (struct pollfd){ .fd = pidfd, .events = POLLIN };
		poll(&p, 1, GUARD_WAIT_MS);
	}
	ms_guard_release(pids_fd);
	_exit(0);
}

int ms_guard_start(int pids_fd)
{
	pid_t tracer = getpid(), pid;
	int fds[2];

	if (pipe2(fds, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -errno;
	}
	if (pid == 0) {
		close(fds[1]);
		guard(fds[0], pids_fd, tracer);
	}
	close(fds[0]);
	return fds[1];
}

void ms_guard_done(int guard)
{
	char c = GUARD_BYE;

	if (guard < 0)
		return;
	if (write(guard, &c, 1) != 1) {
		/* it is gone already: nothing waits for the byte */
	}
	close(guard);
}
