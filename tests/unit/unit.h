/* unit.h: the check suites, one per module */
#ifndef MS_UNIT_H
#define MS_UNIT_H

#include <check.h>

Suite *livetab_suite(void);
Suite *stats_suite(void);
Suite *procmaps_suite(void);
Suite *json_suite(void);
Suite *elfsym_suite(void);
Suite *output_suite(void);
Suite *placement_suite(void);
Suite *record_suite(void);
Suite *allocspec_suite(void);
Suite *numa_suite(void);
Suite *symbolizer_suite(void);
Suite *patterns_suite(void);
Suite *prom_suite(void);
Suite *cgroup_suite(void);
Suite *httpd_suite(void);
Suite *utf8_suite(void);
Suite *sites_suite(void);
Suite *merge_suite(void);
Suite *safepath_suite(void);
Suite *env_suite(void);
Suite *cookie_suite(void);
Suite *catalog_suite(void);
Suite *presets_suite(void);
Suite *launch_suite(void);
Suite *symcache_suite(void);
Suite *vec_suite(void);
Suite *pprof_suite(void);
Suite *cfi_suite(void);
Suite *sample_suite(void);
Suite *html_suite(void);
Suite *inproc_suite(void);
Suite *deps_suite(void);
Suite *stacktab_suite(void);

#endif
