// build: -O2 -fomit-frame-pointer
/* stack_paths.c: built without frame pointers, allocates (and keeps) along three paths that
 * a stack must be unwound through:
 *   plugin: run_plugin -> plugin_fill -> plugin_alloc -> malloc, in libnofp_plugin.so (built
 *           without frame pointers, next to this program), loaded with dlopen;
 *   thread: a second thread: thread_main -> thread_body -> thread_alloc -> malloc, from
 *           start_thread and clone3;
 *   signal: run_signal raises SIGPROF, whose handler (on an alternate signal stack) on_signal
 *           -> signal_alloc -> malloc allocates: through the kernel's signal frame and the C
 *           library's restorer back into raise and run_signal.
 *
 * usage: stack_paths P T S MODE
 * P blocks of 72 bytes through the plugin, T of 88 on the thread, S of 104 in the handler.
 * MODE "run": loads the plugin when its path starts, runs the three paths, prints
 * {"plugin": P, "thread": T, "signal": S} and exits (for a launched command).
 * MODE "gated": loads the plugin first, prints "ready <pid>", waits for SIGUSR1, runs the
 * paths, prints the line, waits for SIGUSR2 and exits (for -p). MODE "stop": gated, and each
 * path stops (SIGSTOP) just before its first malloc, for another unwinder (eu-stack).
 */
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include "gt.h"

#define NOINLINE __attribute__((noinline, noclone))
#define KEEP(p) __asm__ volatile("" : : "r"(p) : "memory")
#define MAX_BLOCKS 100000

static void *plugin_keep[MAX_BLOCKS], *thread_keep[MAX_BLOCKS], *signal_keep[MAX_BLOCKS];
static unsigned long nthread, nsignal;
static int stop_thread, stop_signal;
static void *plugin;
static char altstack[64 * 1024];

static void load_plugin(void)
{
	char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 32);
	char *slash;

	if (n <= 0)
		gt_die("readlink /proc/self/exe");
	path[n] = '\0';
	slash = strrchr(path, '/');
	strcpy(slash ? slash + 1 : path, "libnofp_plugin.so");
	plugin = dlopen(path, RTLD_NOW);
	if (!plugin)
		gt_die(dlerror());
}

NOINLINE static void run_plugin(unsigned long n, int stop)
{
	void (*fill)(void **, unsigned, size_t);
	int *stop_flag;

	if (!plugin)
		load_plugin();
	fill = (void (*)(void **, unsigned, size_t))dlsym(plugin, "plugin_fill");
	stop_flag = dlsym(plugin, "nofp_plugin_stop");
	if (!fill || !stop_flag)
		gt_die("the plugin has no plugin_fill or nofp_plugin_stop");
	*stop_flag = stop;
	fill(plugin_keep, (unsigned)n, 72);
	KEEP(plugin_keep);
}

NOINLINE static void *thread_alloc(size_t n)
{
	void *p;

	if (stop_thread) {
		stop_thread = 0;
		raise(SIGSTOP);
	}
	p = malloc(n); /* malloc in thread_alloc */
	KEEP(p);
	return p;
}

NOINLINE static void thread_body(unsigned long n)
{
	unsigned long i;

	for (i = 0; i < n; i++)
		thread_keep[i] = thread_alloc(88);
	KEEP(thread_keep);
}

static void *thread_main(void *arg)
{
	thread_body(nthread);
	KEEP(arg);
	return NULL;
}

NOINLINE static void *signal_alloc(size_t n)
{
	void *p;

	if (stop_signal) {
		stop_signal = 0;
		raise(SIGSTOP);
	}
	p = malloc(n); /* malloc in signal_alloc */
	KEEP(p);
	return p;
}

NOINLINE static void on_signal(int sig)
{
	unsigned long i;

	for (i = 0; i < nsignal; i++)
		signal_keep[i] = signal_alloc(104);
	KEEP(signal_keep);
}

NOINLINE static void run_signal(void)
{
	stack_t ss = { .ss_sp = altstack, .ss_size = sizeof(altstack) };
	struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_ONSTACK };

	if (sigaltstack(&ss, NULL) || sigaction(SIGPROF, &sa, NULL))
		gt_die("sigaltstack or sigaction");
	if (raise(SIGPROF))
		gt_die("raise");
	KEEP(&sa);
}

int main(int argc, char **argv)
{
	unsigned long p = gt_arg(argc, argv, 1, 10), t = gt_arg(argc, argv, 2, 10);
	const char *mode = argc > 4 ? argv[4] : "run";
	int gated = strcmp(mode, "run") != 0, stop = !strcmp(mode, "stop");
	unsigned long s = gt_arg(argc, argv, 3, 10);
	pthread_t th;
	sigset_t set;
	char line[96];
	int len;

	if (p > MAX_BLOCKS || t > MAX_BLOCKS || s > MAX_BLOCKS)
		gt_die("usage: stack_paths P T S run|gated|stop (each at most 100000)");
	nthread = t;
	nsignal = s;
	if (gated) {
		load_plugin();
		gt_block_signals(&set);
		gt_ready();
		gt_wait_signal(SIGUSR1);
	}
	run_plugin(p, stop);
	stop_thread = stop;
	if (pthread_create(&th, NULL, thread_main, NULL) || pthread_join(th, NULL))
		gt_die("pthread_create");
	stop_signal = stop;
	run_signal();
	len = snprintf(line, sizeof(line), "{\"plugin\": %lu, \"thread\": %lu, \"signal\": %lu}\n",
		       p, t, s);
	if (write(1, line, len) != len)
		return 1;
	if (gated)
		gt_wait_signal(SIGUSR2);
	return 0;
}
