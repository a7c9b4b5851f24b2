/* guard.h: a process that outlives the tracer and lets go the processes it stopped */
#ifndef MS_GUARD_H
#define MS_GUARD_H

#include <sys/types.h>

/*
 * The tracer stops processes (a launched command at its loader's link-map changes, with
 * -f each child at its fork and exec) until it has attached to them. A tracer killed
 * with SIGKILL cannot continue them. The guard is a child process, started before any
 * probe is attached, that holds nothing but the table of traced processes (pids_fd, the
 * BPF map ms_pids) and one end of a pipe. When the tracer dies without saying goodbye,
 * it waits until the tracer is gone (its probes with it: no new stop can come), then
 * sends SIGCONT to every process in the table (which also cancels a stop still
 * pending), and exits. A tracer that ends normally continues them itself and says
 * goodbye. Returns the guard's handle (the pipe's write end, close-on-exec) or -errno.
 */
int ms_guard_start(int pids_fd);

/* Tells the guard the tracer let its processes go itself, and closes the handle */
void ms_guard_done(int guard);

/* SIGCONT to every process in pids_fd's table: what the guard does, and the tracer at its
 * end once its probes are detached. Returns how many were signalled. */
int ms_guard_release(int pids_fd);

#endif
