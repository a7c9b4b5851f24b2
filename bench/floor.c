/* floor.c: attach the bench's empty BPF programs at given probe points and wait for a signal */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "floor.skel.h"
#include "ulink.h"

#define MAX_POINTS 128

/* A probe point: PATH+0xOFFSET (file offset) or PATH:SYMBOL, entry or return */
struct point {
	char path[4096];
	char sym[128]; /* empty: use off */
	unsigned long off;
	int ret;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: floor [-p PID] [-m] [-v] {-e POINT | -r POINT}...\n"
		"  attach an empty uprobe (-e) or uretprobe (-r) at each POINT, print\n"
		"  'floor: attached N probes' on stderr, and wait for SIGINT or SIGTERM\n"
		"  POINT: PATH+0xOFFSET (file offset) or PATH:SYMBOL\n"
		"  -p PID  only in that process (default: every process)\n"
		"  -m      uprobe_multi links, one per file and kind, as memscope-bpf makes on\n"
		"          kernels that have them (PATH+0xOFFSET points only)\n"
		"  -v      print each attached point\n");
	exit(2);
}

static int parse_point(const char *s, int ret, struct point *pt)
{
	const char *plus = strrchr(s, '+'), *colon = strrchr(s, ':');
	char *end;

	memset(pt, 0, sizeof(*pt));
	pt->ret = ret;
	if (plus && (!colon || plus > colon)) {
		if ((size_t)(plus - s) >= sizeof(pt->path))
			return -EINVAL;
		memcpy(pt->path, s, plus - s);
		errno = 0;
		pt->off = strtoul(plus + 1, &end, 0);
		return errno || *end || end == plus + 1 ? -EINVAL : 0;
	}
	if (colon) {
		if ((size_t)(colon - s) >= sizeof(pt->path) || strlen(colon + 1) >= sizeof(pt->sym) ||
		    !colon[1])
			return -EINVAL;
		memcpy(pt->path, s, colon - s);
		strcpy(pt->sym, colon + 1);
		return 0;
	}
	return -EINVAL;
}

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list args)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, args) : 0;
}

int main(int argc, char **argv)
{
	static struct point pts[MAX_POINTS];
	struct bpf_link *links[MAX_POINTS] = { 0 };
	int fds[MAX_POINTS];
	struct floor_bpf *skel = NULL;
	int npts = 0, nlinks = 0, nfds = 0, pid = -1, verbose = 0, multi = 0, c, i, pass, err = 1;

	while ((c = getopt(argc, argv, "p:e:r:mvh")) != -1) {
		switch (c) {
		case 'p':
			pid = atoi(optarg);
			break;
		case 'e':
		case 'r':
			if (npts == MAX_POINTS || parse_point(optarg, c == 'r', &pts[npts])) {
				fprintf(stderr, "floor: bad probe point %s\n", optarg);
				return 2;
			}
			npts++;
			break;
		case 'm':
			multi = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		default:
			usage();
		}
	}
	if (!npts || optind != argc)
		usage();

	libbpf_set_print(libbpf_quiet);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	skel = floor_bpf__open();
	if (skel && multi) {
		bpf_program__set_expected_attach_type(skel->progs.floor_entry,
						      MS_BPF_TRACE_UPROBE_MULTI);
		bpf_program__set_expected_attach_type(skel->progs.floor_return,
						      MS_BPF_TRACE_UPROBE_MULTI);
	}
	if (skel && floor_bpf__load(skel)) {
		floor_bpf__destroy(skel);
		skel = NULL;
	}
	if (!skel) {
		fprintf(stderr, "floor: cannot load the BPF programs: %s\n", strerror(errno));
		return 1;
	}
	/* return probes first, as memscope-bpf does: an entry must not precede its return */
	for (pass = 1; multi && pass >= 0; pass--) {
		bool done[MAX_POINTS] = { 0 };
		int j;

		/* one link per file for this kind, as memscope-bpf makes per object */
		for (i = 0; i < npts; i++) {
			uint64_t offs[MAX_POINTS], cookies[MAX_POINTS] = { 0 };
			size_t n = 0;

			if (pts[i].ret != pass || done[i])
				continue;
			if (pts[i].sym[0]) {
				fprintf(stderr, "floor: -m takes PATH+0xOFFSET points only\n");
				goto cleanup;
			}
			for (j = i; j < npts; j++) {
				if (pts[j].ret != pass || strcmp(pts[j].path, pts[i].path))
					continue;
				done[j] = true;
				offs[n++] = pts[j].off;
			}
			fds[nfds] = ms_ulink_create(bpf_program__fd(pass ? skel->progs.floor_return
									   : skel->progs.floor_entry),
						    pts[i].path, offs, cookies, n, pass,
						    pid == -1 ? 0 : pid);
			if (fds[nfds] < 0) {
				fprintf(stderr, "floor: cannot attach a uprobe_multi link at %s: %s\n",
					pts[i].path, strerror(-fds[nfds]));
				goto cleanup;
			}
			nfds++;
			nlinks += n;
			if (verbose)
				fprintf(stderr, "floor: %zu %s in one uprobe_multi link at %s\n", n,
					pass ? "uretprobes" : "uprobes", pts[i].path);
		}
	}
	for (pass = 1; !multi && pass >= 0; pass--) {
		for (i = 0; i < npts; i++) {
			LIBBPF_OPTS(bpf_uprobe_opts, o, .retprobe = pts[i].ret);
			struct bpf_program *prog;

			if (pts[i].ret != pass)
				continue;
			prog = pts[i].ret ? skel->progs.floor_return : skel->progs.floor_entry;
			if (pts[i].sym[0])
				o.func_name = pts[i].sym;
			links[nlinks] = bpf_program__attach_uprobe_opts(
				prog, pid, pts[i].path, pts[i].sym[0] ? 0 : pts[i].off, &o);
			if (!links[nlinks]) {
				fprintf(stderr, "floor: cannot attach %s at %s%s%s: %s\n",
					pts[i].ret ? "uretprobe" : "uprobe", pts[i].path,
					pts[i].sym[0] ? ":" : "", pts[i].sym, strerror(errno));
				goto cleanup;
			}
			nlinks++;
			if (verbose) {
				if (pts[i].sym[0])
					fprintf(stderr, "floor: %s at %s:%s\n",
						pts[i].ret ? "uretprobe" : "uprobe", pts[i].path,
						pts[i].sym);
				else
					fprintf(stderr, "floor: %s at %s+0x%lx\n",
						pts[i].ret ? "uretprobe" : "uprobe", pts[i].path,
						pts[i].off);
			}
		}
	}
	fprintf(stderr, "floor: attached %d probes\n", nlinks);
	while (!stop)
		pause();
	err = 0;
cleanup:
	for (i = 0; !multi && i < nlinks; i++)
		bpf_link__destroy(links[i]);
	for (i = 0; i < nfds; i++)
		close(fds[i]);
	floor_bpf__destroy(skel);
	return err;
}
