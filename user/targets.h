/* targets.h: what is traced: -p processes, a launched COMMAND, or every process; their
 * loaders, the objects they map later, the children -f holds */
#ifndef MS_TARGETS_H
#define MS_TARGETS_H

#include <stdbool.h>
#include "tracer.h"

/* Before anything else: no pidfd, no launched child */
void ms_targets_init(struct ms_tracer *t);

/*
 * Attaches to what the command line names: the -p processes (and their loaders), the
 * launched COMMAND (its loader: the rest as it maps it), or every running process, and
 * says "attached" (a COMMAND's is said once its libc is mapped). Returns 0, or -errno
 * after one line saying what failed (a missing process, a function named nowhere).
 */
int ms_targets_start(struct ms_tracer *t);

/* The rings' seen callback (ctx: the tracer): a record that asks for something at once
 * (a process -f holds stopped, new objects to attach to, a child left untraced) */
void ms_targets_seen(void *ctx, const struct ms_event *e);

/* -f: attaches to each process held stopped for the daemon and lets it go on */
void ms_targets_serve_held(struct ms_tracer *t);

/*
 * After the records were applied: attaches to the objects processes mapped since, serves
 * the launched COMMAND's stops, notices -p processes that ended. *done when what is traced
 * is gone (the COMMAND exited, every -p process ended). Returns 0, or -errno for a
 * start-up error of the COMMAND (said; the COMMAND is killed).
 */
int ms_targets_serve(struct ms_tracer *t, bool *done);

/* The pidfds, the held and rescan lists */
void ms_targets_free(struct ms_tracer *t);

/* COMMAND prepared (ms_launch_prepare). With --in-process, the shared region too and
 * the library and the region in COMMAND's environment, unless the library could not
 * record its calls (--stacks, named functions, presets, a set-user-ID or static program):
 * then it runs under uprobes, said with -v. 0 or -errno (said). */
int ms_targets_prepare_command(struct ms_tracer *t, char *const *command);

/* --in-process: the records written since the last call, into the merge; how many */
size_t ms_targets_inproc_read(struct ms_tracer *t);

/*
 * The name (its thread-group leader's) and start time (clock ticks since boot) of process
 * pid, from /proc/PID/stat: 0, or -1 when it is gone. The start time tells a process
 * from a later one with the same pid.
 */
int ms_proc_ident(pid_t pid, char comm[MS_COMM_LEN + 1], uint64_t *start);

#endif
