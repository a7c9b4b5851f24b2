/* test_env.c: the parsers of option values (env.c) and the defaults of the command line */
#include <errno.h>
#include <stdint.h>
#include "env.h"
#include "prom.h"
#include "unit.h"

START_TEST(secs)
{
	double v = -1;

	ck_assert_int_eq(ms_env_parse_secs("1.5", false, &v), 0);
	ck_assert(v == 1.5);
	ck_assert_int_eq(ms_env_parse_secs("1e9", false, &v), 0);
	ck_assert_int_eq(ms_env_parse_secs("1.1e9", false, &v), -EINVAL);
	ck_assert_int_eq(ms_env_parse_secs("0", false, &v), -EINVAL);
	ck_assert_int_eq(ms_env_parse_secs("0", true, &v), 0);
	ck_assert(v == 0);
	ck_assert_int_eq(ms_env_parse_secs("-1", true, &v), -EINVAL);
	ck_assert_int_eq(ms_env_parse_secs("nan", true, &v), -EINVAL);
	ck_assert_int_eq(ms_env_parse_secs("1s", false, &v), -EINVAL);
	ck_assert_int_eq(ms_env_parse_secs("", false, &v), -EINVAL);
}
END_TEST

START_TEST(counts)
{
	unsigned long v = 7;

	ck_assert_int_eq(ms_env_parse_count("1", &v), 0);
	ck_assert_uint_eq(v, 1);
	ck_assert_int_eq(ms_env_parse_count("4294967295", &v), 0);
	ck_assert_uint_eq(v, UINT32_MAX);
	ck_assert_int_eq(ms_env_parse_count("4294967296", &v), -EINVAL);
	ck_assert_int_eq(ms_env_parse_count("0", &v), -EINVAL);
	ck_assert_int_eq(ms_env_parse_count("-1", &v), -EINVAL);
	ck_assert_int_eq(ms_env_parse_count("1x", &v), -EINVAL);
	ck_assert_int_eq(ms_env_parse_u32("0", &v), 0);
	ck_assert_uint_eq(v, 0);
	ck_assert_int_eq(ms_env_parse_u32("4294967296", &v), -EINVAL);
	ck_assert_int_eq(ms_env_parse_u32(" 5", &v), 0); /* strtoul's leading space */
}
END_TEST

START_TEST(sizes)
{
	uint64_t v = 0;

	ck_assert_int_eq(ms_env_parse_size("4096", &v), 0);
	ck_assert_uint_eq(v, 4096);
	ck_assert_int_eq(ms_env_parse_size("64M", &v), 0);
	ck_assert_uint_eq(v, 64ULL << 20);
	ck_assert_int_eq(ms_env_parse_size("4g", &v), 0);
	ck_assert_uint_eq(v, 4ULL << 30);
	ck_assert_int_eq(ms_env_parse_size("256k", &v), 0);
	ck_assert_uint_eq(v, 256 << 10);
	ck_assert_int_eq(ms_env_parse_size("3M", &v), -ERANGE);
	ck_assert_int_eq(ms_env_parse_size("8G", &v), -ERANGE);
	ck_assert_int_eq(ms_env_parse_size("2048", &v), -ERANGE);
	ck_assert_int_eq(ms_env_parse_size("16MB", &v), -ERANGE);
	ck_assert_int_eq(ms_env_parse_size("x", &v), -EINVAL);
	ck_assert_int_eq(ms_env_parse_size("-4096", &v), -EINVAL);
}
END_TEST

START_TEST(byte_counts)
{
	uint64_t v = 0;

	ck_assert_int_eq(ms_env_parse_bytes("4096", &v), 0);
	ck_assert_uint_eq(v, 4096);
	ck_assert_int_eq(ms_env_parse_bytes("512K", &v), 0);
	ck_assert_uint_eq(v, 512 << 10);
	ck_assert_int_eq(ms_env_parse_bytes("3m", &v), 0);
	ck_assert_uint_eq(v, 3ULL << 20);
	ck_assert_int_eq(ms_env_parse_bytes("4G", &v), 0);
	ck_assert_uint_eq(v, 4ULL << 30);
	ck_assert_int_eq(ms_env_parse_bytes("0", &v), 0);
	ck_assert_uint_eq(v, 0);
	ck_assert_int_eq(ms_env_parse_bytes("1KB", &v), -EINVAL);
	ck_assert_int_eq(ms_env_parse_bytes("", &v), -EINVAL);
	ck_assert_int_eq(ms_env_parse_bytes("-1", &v), -EINVAL);
	ck_assert_int_eq(ms_env_parse_bytes(" 1", &v), -EINVAL);
	ck_assert_int_eq(ms_env_parse_bytes("99999999999999G", &v), -EINVAL);
	ck_assert_int_eq(ms_env_parse_bytes("99999999999999999999", &v), -EINVAL);
}
END_TEST

START_TEST(pid_lists)
{
	pid_t pids[3];
	int n = 0;

	ck_assert_int_eq(ms_env_parse_pids("1,22", pids, &n, 3), 0);
	ck_assert_int_eq(n, 2);
	ck_assert_int_eq(pids[0], 1);
	ck_assert_int_eq(pids[1], 22);
	ck_assert_int_eq(ms_env_parse_pids("3,4", pids, &n, 3), -E2BIG);
	ck_assert_int_eq(n, 3);
	n = 0;
	ck_assert_int_eq(ms_env_parse_pids("", pids, &n, 3), -EINVAL);
	ck_assert_int_eq(ms_env_parse_pids("0", pids, &n, 3), -EINVAL);
	ck_assert_int_eq(ms_env_parse_pids("1,,2", pids, &n, 3), -EINVAL);
	ck_assert_int_eq(ms_env_parse_pids("2147483648", pids, &n, 3), -EINVAL);
	ck_assert_int_eq(ms_env_parse_pids("12a", pids, &n, 3), -EINVAL);
}
END_TEST

/* The defaults a bare command line gets, from the constants the usage text names */
START_TEST(defaults)
{
	static struct ms_env env;
	char arg0[] = "memscope-bpf", *argv[] = { arg0, NULL };

	ms_env_parse(&env, 1, argv);
	ck_assert(env.interval == MS_ENV_INTERVAL);
	ck_assert_uint_eq(env.top, MS_ENV_TOP);
	ck_assert_uint_eq(env.ringbuf_size, (uint64_t)MS_ENV_RINGBUF_MB << 20);
	ck_assert_uint_eq(env.stack_depth, MS_ENV_STACK_DEPTH);
	ck_assert_uint_eq(env.stack_entries, MS_ENV_STACK_ENTRIES);
	ck_assert(env.min_age == MS_ENV_MIN_AGE);
	ck_assert_uint_eq(env.max_live, MS_ENV_MAX_LIVE);
	ck_assert_uint_eq(env.max_procs, MS_ENV_MAX_PROCS);
	ck_assert(env.pool.min_share == MS_POOL_MIN_SHARE);
	ck_assert_uint_eq(env.pool.min_chunks, MS_POOL_MIN_CHUNKS);
	ck_assert(env.prom_grace == MS_PROM_DEFAULT_GRACE);
	ck_assert_int_eq(env.npids, 0);
	ck_assert_ptr_null(env.command);
}
END_TEST

/* Options over the defaults; parsing twice starts from the defaults again */
START_TEST(options)
{
	static struct ms_env env;
	char *argv[] = {
		"memscope-bpf", "-p", "12,34",		"-i",  "0.5", "--stacks", "--stack-depth",
		"64",		"-j", "--ringbuf-size", "64M", NULL
	};
	char *bare[] = { "memscope-bpf", "--", "ls", "-l", NULL };

	ms_env_parse(&env, 11, argv);
	ck_assert_int_eq(env.npids, 2);
	ck_assert_int_eq(env.pids[1], 34);
	ck_assert(env.interval == 0.5);
	ck_assert(env.stacks && env.json);
	ck_assert_uint_eq(env.stack_depth, 64);
	ck_assert_uint_eq(env.ringbuf_size, 64 << 20);
	ms_env_parse(&env, 4, bare);
	ck_assert_int_eq(env.npids, 0);
	ck_assert(!env.stacks);
	ck_assert_ptr_nonnull(env.command);
	ck_assert_str_eq(env.command[0], "ls");
	ck_assert_str_eq(env.command[1], "-l");
}
END_TEST

/* How a COMMAND is traced: in-process and exact by default; lossy on request; --bpf
 * for uprobes; -p never in-process */
START_TEST(command_source)
{
	static struct ms_env env;
	char *dflt[] = { "memscope-bpf", "--", "ls", NULL };
	char *lossy[] = { "memscope-bpf", "--in-process=lossy", "--", "ls", NULL };
	char *bpf[] = { "memscope-bpf", "--bpf", "--", "ls", NULL };
	char *pid[] = { "memscope-bpf", "-p", "1", NULL };

	ms_env_parse(&env, 3, dflt);
	ck_assert(env.in_process && !env.in_process_lossy && !env.bpf);
	ms_env_parse(&env, 4, lossy);
	ck_assert(env.in_process && env.in_process_lossy);
	ms_env_parse(&env, 4, bpf);
	ck_assert(!env.in_process && env.bpf);
	ms_env_parse(&env, 3, pid);
	ck_assert(!env.in_process && !env.bpf);
}
END_TEST

/* --bpf chooses for a COMMAND only, and not with --in-process: usage errors */
START_TEST(bpf_without_command)
{
	static struct ms_env env;
	char *argv[] = { "memscope-bpf", "--bpf", "-p", "1", NULL };

	ms_env_parse(&env, 4, argv);
}
END_TEST

START_TEST(bpf_and_in_process)
{
	static struct ms_env env;
	char *argv[] = { "memscope-bpf", "--bpf", "--in-process", "--", "ls", NULL };

	ms_env_parse(&env, 5, argv);
}
END_TEST

/* A usage error exits with 2 */
START_TEST(usage_error)
{
	static struct ms_env env;
	char *argv[] = { "memscope-bpf", "--ringbuf-size", "3M", NULL };

	ms_env_parse(&env, 3, argv);
}
END_TEST

Suite *env_suite(void)
{
	Suite *s = suite_create("env");
	TCase *tc = tcase_create("parsers");

	tcase_add_test(tc, secs);
	tcase_add_test(tc, counts);
	tcase_add_test(tc, sizes);
	tcase_add_test(tc, byte_counts);
	tcase_add_test(tc, pid_lists);
	tcase_add_test(tc, defaults);
	tcase_add_test(tc, options);
	tcase_add_test(tc, command_source);
	tcase_add_exit_test(tc, usage_error, 2);
	tcase_add_exit_test(tc, bpf_without_command, 2);
	tcase_add_exit_test(tc, bpf_and_in_process, 2);
	suite_add_tcase(s, tc);
	return s;
}
