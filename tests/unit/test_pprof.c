/* test_pprof.c: a heap profile (pprof.c) decoded with protobuf-c after gunzip, every field
 * checked: sample types, period, labels, locations with inline lines, mappings, filters */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "pprof.h"
#include "proto/profile.pb-c.h"
#include "unit.h"

/* Process 42 ("leaky"): two sites by stack
 *   site A (stack 1): blocks of 100 B, 3 allocated, 1 freed: frames 0x1000 (with one call
 *     inlined there), 0x2000; blocks of one size, from allocator 0 ("libc")
 *   site B (stack 2): blocks of 10 and 30 B, both live: frames 0x3000, 0x2000
 * Process 43 ("other"): site C (stack 1): one block of 8 B from allocator 1 ("jemalloc"):
 *   frame 0x1000 (another process: its own location) */
static unsigned fake_addrs(pid_t pid, const struct ms_stack_site *t, uint64_t *ips, unsigned max,
			   void *ctx)
{
	if (t->stack_id == 1 && pid == 42) {
		ips[0] = 0x1000;
		ips[1] = 0x2000;
		return 2;
	}
	if (t->stack_id == 2) {
		ips[0] = 0x3000;
		ips[1] = 0x2000;
		return 2;
	}
	ips[0] = 0x1000;
	return 1;
}

static int fake_frames(pid_t pid, uint64_t addr, char (*frames)[MS_PPROF_FRAME_LEN], unsigned max,
		       void *ctx)
{
	switch (addr) {
	case 0x1000:
		strcpy(frames[0], "std::vector<int>::push_back(int const&) (stl_vector.h:1198)");
		strcpy(frames[1], "grow+0x1c (app.c:12)");
		return 2;
	case 0x2000:
		strcpy(frames[0], "main+0x30 (app.c:40)");
		return 1;
	default:
		strcpy(frames[0], "libfoo.so+0x3000");
		return 1;
	}
}

static int fake_mapping(pid_t pid, uint64_t addr, struct ms_symcache_mapping *m, void *ctx)
{
	if (addr == 0x3000) {
		*m = (struct ms_symcache_mapping){ 0x3000, 0x4000, 0x1000, "/usr/lib/libfoo.so",
						   "" };
		return 0;
	}
	*m = (struct ms_symcache_mapping){ 0x1000, 0x3000, 0, "/usr/bin/app", "0a1b2c3d" };
	return 0;
}

static const char *alloc_name(unsigned id, void *ctx)
{
	return id ? "jemalloc" : "libc";
}

static const struct ms_pprof_frames frames = { fake_addrs, fake_frames, fake_mapping, NULL, NULL };

static struct ms_stack_sites a, b;

static void sites_setup(void)
{
	uint32_t site;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	ms_sites_alloc(&a, 100, 0, 1, 0x1000, &site);
	ms_sites_alloc(&a, 100, 0, 1, 0x1000, &site);
	ms_sites_alloc(&a, 100, 0, 1, 0x1000, &site);
	ms_sites_free(&a, site, 100);
	ms_sites_alloc(&a, 10, 0, 2, 0x3000, &site);
	ms_sites_alloc(&a, 30, 0, 2, 0x3000, &site);
	ms_sites_alloc(&b, 8, 1, 1, 0x1000, &site);
}

static struct ms_pprof *snapshot(uint64_t sample_bytes)
{
	struct ms_pprof *s = ms_pprof_new(1700000000000000000ULL, 2500000000ULL, sample_bytes);
	struct ms_pprof_proc p = { 42, "leaky", &a, alloc_name, NULL };
	struct ms_pprof_proc q = { 43, "other", &b, alloc_name, NULL };

	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(ms_pprof_add(s, &p, &frames), 0);
	ck_assert_int_eq(ms_pprof_add(s, &q, &frames), 0);
	return s;
}

/* The profile encoded from s with filter f, gunzipped and decoded */
static Perftools__Profiles__Profile *decode(const struct ms_pprof *s,
					    const struct ms_pprof_filter *f, bool allocs)
{
	static uint8_t raw[1 << 20];
	Perftools__Profiles__Profile *pr;
	z_stream z = { 0 };
	uint8_t *gz;
	size_t len;

	ck_assert_int_eq(ms_pprof_encode(s, f, allocs, &gz, &len), 0);
	ck_assert_uint_ge(len, 18);
	ck_assert(gz[0] == 0x1f && gz[1] == 0x8b); /* gzip */
	ck_assert_int_eq(inflateInit2(&z, 15 + 16), Z_OK);
	z.next_in = gz;
	z.avail_in = len;
	z.next_out = raw;
	z.avail_out = sizeof(raw);
	ck_assert_int_eq(inflate(&z, Z_FINISH), Z_STREAM_END);
	pr = perftools__profiles__profile__unpack(NULL, z.total_out, raw);
	inflateEnd(&z);
	free(gz);
	ck_assert_ptr_nonnull(pr);
	return pr;
}

static const char *str(const Perftools__Profiles__Profile *pr, int64_t i)
{
	ck_assert(i >= 0 && (size_t)i < pr->n_string_table);
	return pr->string_table[i];
}

static const Perftools__Profiles__Location *loc(const Perftools__Profiles__Profile *pr, uint64_t id)
{
	ck_assert(id >= 1 && id <= pr->n_location);
	ck_assert_uint_eq(pr->location[id - 1]->id, id);
	return pr->location[id - 1];
}

static const char *fn_name(const Perftools__Profiles__Profile *pr, uint64_t id)
{
	ck_assert(id >= 1 && id <= pr->n_function);
	ck_assert_uint_eq(pr->function[id - 1]->id, id);
	return str(pr, pr->function[id - 1]->name);
}

/* The string label key's value; with num, the numeric label key's number; NULL: none */
static const char *label(const Perftools__Profiles__Profile *pr,
			 const Perftools__Profiles__Sample *x, const char *key, int64_t *num)
{
	size_t i;

	for (i = 0; i < x->n_label; i++) {
		if (strcmp(str(pr, x->label[i]->key), key) || !x->label[i]->str != !!num)
			continue;
		if (num) {
			*num = x->label[i]->num;
			/* sizes in bytes; a pid has no unit */
			ck_assert_str_eq(str(pr, x->label[i]->num_unit),
					 strcmp(key, "bytes") ? "" : "bytes");
		}
		return str(pr, x->label[i]->str);
	}
	return NULL;
}

START_TEST(every_field)
{
	static const char *const types[4][2] = { { "alloc_objects", "count" },
						 { "alloc_space", "bytes" },
						 { "inuse_objects", "count" },
						 { "inuse_space", "bytes" } };
	struct ms_pprof *s;
	Perftools__Profiles__Profile *pr;
	const Perftools__Profiles__Sample *x;
	const Perftools__Profiles__Location *l;
	const Perftools__Profiles__Mapping *m;
	int64_t bytes;
	size_t i;

	sites_setup();
	s = snapshot(0);
	pr = decode(s, NULL, false);
	ck_assert_str_eq(str(pr, 0), "");
	ck_assert_uint_eq(pr->n_sample_type, 4);
	for (i = 0; i < 4; i++) {
		ck_assert_str_eq(str(pr, pr->sample_type[i]->type), types[i][0]);
		ck_assert_str_eq(str(pr, pr->sample_type[i]->unit), types[i][1]);
	}
	ck_assert_str_eq(str(pr, pr->default_sample_type), "inuse_space");
	ck_assert_str_eq(str(pr, pr->period_type->type), "space");
	ck_assert_str_eq(str(pr, pr->period_type->unit), "bytes");
	ck_assert_int_eq(pr->period, 1); /* exact */
	ck_assert_int_eq(pr->time_nanos, 1700000000000000000LL);
	ck_assert_int_eq(pr->duration_nanos, 2500000000LL);
	ck_assert_uint_eq(pr->n_sample, 3);

	/* site A: 3 allocated (300 B), 2 live (200 B); one size: bytes=100 */
	x = pr->sample[0];
	ck_assert_uint_eq(x->n_value, 4);
	ck_assert(x->value[0] == 3 && x->value[1] == 300 && x->value[2] == 2 && x->value[3] == 200);
	ck_assert_str_eq(label(pr, x, "pid", NULL), "42");
	ck_assert_str_eq(label(pr, x, "comm", NULL), "leaky");
	ck_assert_str_eq(label(pr, x, "allocator", NULL), "libc");
	ck_assert_ptr_nonnull(label(pr, x, "bytes", &bytes));
	ck_assert_int_eq(bytes, 100);
	ck_assert_ptr_nonnull(label(pr, x, "pid", &bytes));
	ck_assert_int_eq(bytes, 42);
	ck_assert_uint_eq(x->n_label, 5);
	ck_assert_uint_eq(x->n_location_id, 2);
	/* its first location: one address, the inlined call first, then its function */
	l = loc(pr, x->location_id[0]);
	ck_assert_uint_eq(l->address, 0x1000);
	ck_assert_uint_eq(l->n_line, 2);
	ck_assert_str_eq(fn_name(pr, l->line[0]->function_id),
			 "std::vector<int>::push_back(int const&)");
	ck_assert_int_eq(l->line[0]->line, 1198);
	ck_assert_str_eq(str(pr, pr->function[l->line[0]->function_id - 1]->filename),
			 "stl_vector.h");
	ck_assert_str_eq(fn_name(pr, l->line[1]->function_id), "grow");
	ck_assert_int_eq(l->line[1]->line, 12);
	ck_assert_str_eq(str(pr, pr->function[l->line[1]->function_id - 1]->filename), "app.c");
	/* its mapping, with the build-id */
	ck_assert(l->mapping_id >= 1 && l->mapping_id <= pr->n_mapping);
	m = pr->mapping[l->mapping_id - 1];
	ck_assert_uint_eq(m->id, l->mapping_id);
	ck_assert(m->memory_start == 0x1000 && m->memory_limit == 0x3000 && m->file_offset == 0);
	ck_assert_str_eq(str(pr, m->filename), "/usr/bin/app");
	ck_assert_str_eq(str(pr, m->build_id), "0a1b2c3d");
	ck_assert(m->has_functions && m->has_line_numbers && m->has_filenames);
	l = loc(pr, x->location_id[1]);
	ck_assert_uint_eq(l->address, 0x2000);
	ck_assert_str_eq(fn_name(pr, l->line[0]->function_id), "main");
	ck_assert_int_eq(l->line[0]->line, 40);

	/* site B: two sizes: no bytes label; shares main's location (one id) */
	x = pr->sample[1];
	ck_assert(x->value[0] == 2 && x->value[1] == 40 && x->value[2] == 2 && x->value[3] == 40);
	ck_assert_ptr_null(label(pr, x, "bytes", &bytes));
	ck_assert_uint_eq(x->location_id[1], pr->sample[0]->location_id[1]);
	l = loc(pr, x->location_id[0]);
	ck_assert_str_eq(fn_name(pr, l->line[0]->function_id), "libfoo.so");
	ck_assert_int_eq(l->line[0]->line, 0);
	m = pr->mapping[l->mapping_id - 1];
	ck_assert_str_eq(str(pr, m->filename), "/usr/lib/libfoo.so");
	ck_assert_str_eq(str(pr, m->build_id), "");
	/* from where its file begins: 0x3000 less its offset */
	ck_assert(m->memory_start == 0x2000 && m->file_offset == 0 && !m->has_line_numbers);

	/* site C: another process, its own location at the same address */
	x = pr->sample[2];
	ck_assert_str_eq(label(pr, x, "pid", NULL), "43");
	ck_assert_str_eq(label(pr, x, "allocator", NULL), "jemalloc");
	ck_assert_uint_eq(x->n_location_id, 1);
	ck_assert_uint_ne(x->location_id[0], pr->sample[0]->location_id[0]);
	ck_assert_uint_eq(loc(pr, x->location_id[0])->address, 0x1000);
	/* functions are shared across processes: grow appears once */
	ck_assert_uint_eq(pr->n_function, 4);
	ck_assert_uint_eq(pr->n_location, 4);
	ck_assert_uint_eq(pr->n_mapping, 3);
	perftools__profiles__profile__free_unpacked(pr, NULL);

	/* /debug/pprof/allocs: alloc_space by default */
	pr = decode(s, NULL, true);
	ck_assert_str_eq(str(pr, pr->default_sample_type), "alloc_space");
	perftools__profiles__profile__free_unpacked(pr, NULL);
	ms_pprof_unref(s);
	ms_sites_free_all(&a);
	ms_sites_free_all(&b);
}
END_TEST

/* A filter keeps its process' samples, and only the tables they reach */
START_TEST(filtered)
{
	struct ms_pprof_filter by_pid = { .pid = 43 }, by_comm = { .comm = "leaky" },
			       none = { .pid = 99 };
	Perftools__Profiles__Profile *pr;
	struct ms_pprof *s;

	sites_setup();
	s = snapshot(524288);
	ck_assert(ms_pprof_has(s, &by_pid) && ms_pprof_has(s, &by_comm) && !ms_pprof_has(s, &none));
	pr = decode(s, &by_pid, false);
	ck_assert_int_eq(pr->period, 524288);
	ck_assert_uint_eq(pr->n_sample, 1);
	ck_assert_str_eq(label(pr, pr->sample[0], "comm", NULL), "other");
	ck_assert_uint_eq(pr->n_location, 1);
	ck_assert_uint_eq(pr->n_mapping, 1);
	ck_assert_uint_eq(pr->n_function, 2); /* push_back and grow */
	perftools__profiles__profile__free_unpacked(pr, NULL);
	pr = decode(s, &by_comm, false);
	ck_assert_uint_eq(pr->n_sample, 2);
	perftools__profiles__profile__free_unpacked(pr, NULL);
	ms_pprof_unref(s);
	ms_sites_free_all(&a);
	ms_sites_free_all(&b);
}
END_TEST

Suite *pprof_suite(void)
{
	Suite *s = suite_create("pprof");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, every_field);
	tcase_add_test(tc, filtered);
	suite_add_tcase(s, tc);
	return s;
}
