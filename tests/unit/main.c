/* main.c: runs every unit suite; no root needed */
#include <stdlib.h>
#include "unit.h"

int main(void)
{
	SRunner *sr = srunner_create(livetab_suite());
	int failed;

	srunner_add_suite(sr, stats_suite());
	srunner_add_suite(sr, procmaps_suite());
	srunner_add_suite(sr, json_suite());
	srunner_add_suite(sr, elfsym_suite());
	srunner_add_suite(sr, output_suite());
	srunner_add_suite(sr, placement_suite());
	srunner_add_suite(sr, record_suite());
	srunner_add_suite(sr, allocspec_suite());
	srunner_add_suite(sr, numa_suite());
	srunner_add_suite(sr, symbolizer_suite());
	srunner_add_suite(sr, patterns_suite());
	srunner_add_suite(sr, prom_suite());
	srunner_add_suite(sr, cgroup_suite());
	srunner_add_suite(sr, httpd_suite());
	srunner_add_suite(sr, utf8_suite());
	srunner_add_suite(sr, sites_suite());
	srunner_add_suite(sr, merge_suite());
	srunner_add_suite(sr, safepath_suite());
	srunner_add_suite(sr, env_suite());
	srunner_add_suite(sr, cookie_suite());
	srunner_add_suite(sr, catalog_suite());
	srunner_add_suite(sr, presets_suite());
	srunner_add_suite(sr, launch_suite());
	srunner_add_suite(sr, symcache_suite());
	srunner_add_suite(sr, vec_suite());
	srunner_add_suite(sr, pprof_suite());
	srunner_add_suite(sr, cfi_suite());
	srunner_add_suite(sr, sample_suite());
	srunner_add_suite(sr, html_suite());
	srunner_add_suite(sr, inproc_suite());
	srunner_add_suite(sr, deps_suite());
	srunner_add_suite(sr, stacktab_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
