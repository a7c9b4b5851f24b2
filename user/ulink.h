/* ulink.h: uprobe_multi links (Linux 6.6+), made with the bpf syscall directly since
 * Debian 12's libbpf 1.1 and UAPI headers predate them */
#ifndef MS_ULINK_H
#define MS_ULINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* enum bpf_attach_type's BPF_TRACE_UPROBE_MULTI: a program loaded with it attaches
 * only through uprobe_multi links */
#define MS_BPF_TRACE_UPROBE_MULTI 48

/*
 * Whether this kernel has uprobe_multi links whose pid filter is a process filter
 * (the first versions filtered one thread). Probed once with a two-instruction program,
 * the way libbpf 1.3+ does: a link on "/" fails with EBADF when the link type exists,
 * and one with pid -1 fails early with EINVAL once the pid filter was fixed.
 */
bool ms_ulink_supported(void);

/*
 * One link of prog_fd (loaded with MS_BPF_TRACE_UPROBE_MULTI) at n file offsets of
 * path, each with its attach cookie; return probes when ret; only in process pid, or
 * in every process when pid is 0. Returns the link's fd, or -errno.
 */
int ms_ulink_create(int prog_fd, const char *path, const uint64_t *offsets, const uint64_t *cookies,
		    size_t n, bool ret, pid_t pid);

#endif
