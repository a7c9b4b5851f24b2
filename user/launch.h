/* launch.h: start a command held before exec until the tracer is ready */
#ifndef MS_LAUNCH_H
#define MS_LAUNCH_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

struct ms_launch {
	pid_t pid;	       /* the child, held before exec */
	int gate;	       /* write end of the pipe the child waits on; -1 once released */
	char path[PATH_MAX];   /* the executable, after the PATH search */
	char image[PATH_MAX];  /* the ELF program that runs: path, or its #! interpreter */
	char interp[PATH_MAX]; /* its dynamic loader ("" when statically linked) */
};

/*
 * Resolves argv[0] through PATH (as execvp would), finds the program's dynamic
 * loader (through a #! line when it is a script), and forks a child that waits
 * until ms_launch_release. Returns 0, -ENOENT/-EACCES when the command cannot be
 * run, -ENOEXEC when it is not a program, or another -errno.
 */
int ms_launch_prepare(struct ms_launch *l, char *const argv[]);

/* ms_launch_prepare in two steps: what runs (path, image, interp; errors as above), then the
 * held child (-errno when it cannot be forked) */
int ms_launch_find(struct ms_launch *l, char *const argv[]);
int ms_launch_start(struct ms_launch *l, char *const argv[]);

/* Lets the child exec the command */
int ms_launch_release(struct ms_launch *l);

/* Kills and reaps a child that was never released */
void ms_launch_abort(struct ms_launch *l);

#endif
