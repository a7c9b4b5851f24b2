/* ulink.c: uprobe_multi links through the bpf syscall */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/bpf.h>
#include "ulink.h"

#define MS_BPF_F_UPROBE_MULTI_RETURN 1

/* union bpf_attr's link_create for uprobe_multi, as the kernel lays it out */
struct ulink_attr {
	uint32_t prog_fd;
	uint32_t target_fd;
	uint32_t attach_type;
	uint32_t flags;
	uint64_t path;
	uint64_t offsets;
	uint64_t ref_ctr_offsets;
	uint64_t cookies;
	uint32_t cnt;
	uint32_t multi_flags;
	uint32_t pid;
	uint32_t pad;
};

static int link_create(int prog_fd, const char *path, const uint64_t *offsets,
		       const uint64_t *cookies, size_t n, bool ret, int pid)
{
	struct ulink_attr a;
	int fd;

	memset(&a, 0, sizeof(a));
	a.prog_fd = prog_fd;
	a.attach_type = MS_BPF_TRACE_UPROBE_MULTI;
	a.path = (uintptr_t)path;
	a.offsets = (uintptr_t)offsets;
	a.cookies = (uintptr_t)cookies;
	a.cnt = n;
	a.multi_flags = ret ? MS_BPF_F_UPROBE_MULTI_RETURN : 0;
	a.pid = pid;
	fd = syscall(__NR_bpf, BPF_LINK_CREATE, &a, offsetof(struct ulink_attr, pad));
	return fd < 0 ? -errno : fd;
}

int ms_ulink_create(int prog_fd, const char *path, const uint64_t *offsets, const uint64_t *cookies,
		    size_t n, bool ret, pid_t pid)
{
	if (!n || n > UINT32_MAX || pid < 0)
		return -EINVAL;
	return link_create(prog_fd, path, offsets, cookies, n, ret, pid);
}

static int load_trivial(void)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	union bpf_attr a;
	int fd;

	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_KPROBE;
	a.expected_attach_type = MS_BPF_TRACE_UPROBE_MULTI;
	a.insns = (uintptr_t)insns;
	a.insn_cnt = sizeof(insns) / sizeof(insns[0]);
	a.license = (uintptr_t) "GPL";
	fd = syscall(__NR_bpf, BPF_PROG_LOAD, &a, sizeof(a));
	return fd < 0 ? -errno : fd;
}

bool ms_ulink_supported(void)
{
	static int known = -1;
	uint64_t off = 0;
	int prog, fd;

	if (known >= 0)
		return known;
	known = 0;
	prog = load_trivial();
	if (prog < 0)
		return false;
	fd = link_create(prog, "/", &off, NULL, 1, false, 0);
	if (fd >= 0)
		close(fd);
	else if (fd == -EBADF) {
		fd = link_create(prog, "/", &off, NULL, 1, false, -1);
		if (fd >= 0)
			close(fd);
		known = fd == -EINVAL;
	}
	close(prog);
	return known;
}
