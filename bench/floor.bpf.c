// SPDX-License-Identifier: GPL-2.0
/* floor.bpf.c: the empty-probe floor: entry and return programs that do nothing */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

/* what a uprobe costs before a tracer does anything: the trap and the BPF dispatch */
SEC("uprobe")
int BPF_KPROBE(floor_entry)
{
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(floor_return)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
