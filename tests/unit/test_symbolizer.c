/* test_symbolizer.c: the symbolizer on C, C++ and Rust fixtures built at test time, split
 * debug files, its caches and bounds, and truncated or corrupt objects */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <elfutils/libdwelf.h>
#include <gelf.h>
#include "symbolizer.h"
#include "unit.h"

/* The fixtures, built once into tmp by the unchecked fixture (so in the parent process,
 * before the tests fork): sym_c (C, with a build-id), sym_c_nobid, sym_cc (C++),
 * rs_legacy and rs_v0 (Rust, both manglings), sym_c_split with debug/.build-id/... */
static char tmp[64];
static char debug_dir[128];
static struct {
	bool c, c_nobid, cc, rust, split;
} built;

/* a function of this program, resolved through /proc/self/map_files */
__attribute__((noinline, used)) int ms_sym_unit_target(int x)
{
	asm volatile("" ::: "memory");
	return x * 5 + 2;
}

static char *path_in(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", tmp, name);
	return buf;
}

/* Runs cmd in a shell; its output is shown only when it fails */
static bool run(const char *cmd)
{
	char buf[8192];

	snprintf(buf, sizeof(buf), "(%s) >%s/log 2>&1 || { cat %s/log >&2; exit 1; }", cmd, tmp,
		 tmp);
	return system(buf) == 0;
}

static bool have(const char *tool)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", tool);
	return system(cmd) == 0;
}

static int build_id_hex(const char *path, char *hex, size_t len)
{
	const unsigned char *id = NULL;
	int fd = open(path, O_RDONLY), n = -1, i;
	Elf *elf;

	if (fd < 0 || elf_version(EV_CURRENT) == EV_NONE)
		return -1;
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (elf)
		n = dwelf_elf_gnu_build_id(elf, (const void **)&id);
	for (i = 0; i < n && (size_t)(2 * i + 2) < len; i++)
		sprintf(hex + 2 * i, "%02x", id[i]);
	elf_end(elf);
	close(fd);
	return n > 0 ? 0 : -1;
}

/* sym_c stripped of everything, its debug file only at debug/.build-id/xx/yyyy.debug */
static bool build_split(void)
{
	char cmd[4096], hex[130], src[128];

	snprintf(cmd, sizeof(cmd),
		 "cp %1$s/sym_c %1$s/sym_c_split && objcopy --only-keep-debug %1$s/sym_c "
		 "%1$s/split.debug && strip --strip-all %1$s/sym_c_split",
		 tmp);
	if (!run(cmd) || build_id_hex(path_in(src, sizeof(src), "sym_c_split"), hex, sizeof(hex)))
		return false;
	snprintf(
		cmd, sizeof(cmd),
		"mkdir -p %1$s/.build-id/%2$.2s && mv %3$s/split.debug %1$s/.build-id/%2$.2s/%4$s.debug",
		debug_dir, hex, tmp, hex + 2);
	return run(cmd);
}

static void fixtures_build(void)
{
	/* __FILE__ is tests/unit/test_symbolizer.c: make check runs from the top directory */
	const char *cflags = "-g -O1 -fno-omit-frame-pointer";
	char cmd[4096], dir[1024];
	const char *slash = strrchr(__FILE__, '/');

	snprintf(dir, sizeof(dir), "%.*s/fixtures", slash ? (int)(slash - __FILE__) : 1,
		 slash ? __FILE__ : ".");
	strcpy(tmp, "/tmp/ms-symbolizer-XXXXXX");
	if (!mkdtemp(tmp)) {
		perror("mkdtemp");
		return;
	}
	snprintf(debug_dir, sizeof(debug_dir), "%s/debug", tmp);
	/* hermetic: no debuginfod downloads */
	unsetenv("DEBUGINFOD_URLS");
	snprintf(cmd, sizeof(cmd), "cc %s -Wl,--build-id %s/sym_fixture.c -o %s/sym_c", cflags, dir,
		 tmp);
	built.c = run(cmd);
	snprintf(cmd, sizeof(cmd), "cc %s -Wl,--build-id=none %s/sym_fixture.c -o %s/sym_c_nobid",
		 cflags, dir, tmp);
	built.c_nobid = run(cmd);
	snprintf(cmd, sizeof(cmd), "g++ %s %s/sym_fixture.cc -o %s/sym_cc", cflags, dir, tmp);
	built.cc = run(cmd);
	if (have("rustc")) {
		snprintf(
			cmd, sizeof(cmd),
			"rustc -g -C opt-level=1 -C force-frame-pointers=yes --crate-name "
			"rust_fixture %1$s/sym_fixture.rs -o %2$s/rs_legacy && "
			"rustc -g -C opt-level=1 -C force-frame-pointers=yes --crate-name "
			"rust_fixture -C symbol-mangling-version=v0 %1$s/sym_fixture.rs -o %2$s/rs_v0",
			dir, tmp);
		built.rust = run(cmd);
	} else {
		fprintf(stderr, "test_symbolizer: rustc not found, Rust fixture skipped\n");
	}
	built.split = built.c && build_split();
}

static void fixtures_remove(void)
{
	char cmd[128];

	if (!tmp[0])
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
	if (system(cmd))
		fprintf(stderr, "cannot remove %s\n", tmp);
}

/* A function symbol of path (.symtab or .dynsym) for which match() holds: its address
 * and its file offset through the PT_LOAD segment holding it */
static bool find_func(const char *path, bool (*match)(const char *, const void *), const void *arg,
		      uint64_t *vaddr, uint64_t *file_off)
{
	Elf_Scn *scn = NULL;
	bool found = false;
	size_t i, n;
	Elf *elf;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0 || elf_version(EV_CURRENT) == EV_NONE)
		return false;
	elf = elf_begin(fd, ELF_C_READ, NULL);
	while (elf && !found && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) ||
		    (sh.sh_type != SHT_SYMTAB && sh.sh_type != SHT_DYNSYM))
			continue;
		d = elf_getdata(scn, NULL);
		for (i = 0; d && sh.sh_entsize && i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym sym;
			const char *name;

			if (!gelf_getsym(d, i, &sym) || GELF_ST_TYPE(sym.st_info) != STT_FUNC ||
			    !sym.st_value)
				continue;
			name = elf_strptr(elf, sh.sh_link, sym.st_name);
			if (name && match(name, arg)) {
				*vaddr = sym.st_value;
				found = true;
				break;
			}
		}
	}
	if (found && elf_getphdrnum(elf, &n) == 0) {
		found = false;
		for (i = 0; i < n; i++) {
			GElf_Phdr ph;

			if (gelf_getphdr(elf, i, &ph) && ph.p_type == PT_LOAD &&
			    *vaddr >= ph.p_vaddr && *vaddr < ph.p_vaddr + ph.p_filesz) {
				*file_off = *vaddr - ph.p_vaddr + ph.p_offset;
				found = true;
			}
		}
	}
	elf_end(elf);
	close(fd);
	return found;
}

static bool match_exact(const char *name, const void *want)
{
	return !strcmp(name, want);
}

/* rust_fixture::make_leak in either mangling: _ZN12rust_fixture9make_leak17h<hash>E
 * or _RNvCs<disambiguator>_12rust_fixture9make_leak */
static bool match_rust(const char *name, const void *unused)
{
	static const char v0_tail[] = "12rust_fixture9make_leak";
	size_t n = strlen(name), t = sizeof(v0_tail) - 1;

	if (!strncmp(name, "_ZN12rust_fixture9make_leak17h", 30))
		return true;
	return !strncmp(name, "_R", 2) && n > t && !strcmp(name + n - t, v0_tail);
}

/* addr2line's file and line for vaddr in path */
static bool addr2line(const char *path, uint64_t vaddr, char *file, size_t len, int *line)
{
	char cmd[512], out[1024], *colon, *p;
	FILE *f;
	bool ok;

	snprintf(cmd, sizeof(cmd), "addr2line -e %s 0x%" PRIx64, path, vaddr);
	f = popen(cmd, "r");
	if (!f)
		return false;
	ok = fgets(out, sizeof(out), f) != NULL;
	pclose(f);
	if (!ok)
		return false;
	out[strcspn(out, "\n")] = '\0';
	if ((p = strstr(out, " (discriminator")))
		*p = '\0';
	colon = strrchr(out, ':');
	if (!colon)
		return false;
	*colon = '\0';
	snprintf(file, len, "%s", out);
	*line = atoi(colon + 1);
	return *line > 0;
}

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

/* Resolves name's function (at its start and inside) in path and checks the function,
 * offset, object and file:line against the ELF symbol and addr2line */
static void check_function(struct ms_symbolizer *s, const char *path,
			   bool (*match)(const char *, const void *), const void *arg,
			   const char *want_fn, const char *want_src)
{
	static const uint64_t into[] = { 0, 4 };
	struct ms_frame_info fi;
	uint64_t vaddr, off;
	char file[1024];
	size_t i;
	int line;

	ck_assert_msg(find_func(path, match, arg, &vaddr, &off), "%s: no symbol for %s", path,
		      want_fn);
	for (i = 0; i < sizeof(into) / sizeof(into[0]); i++) {
		ck_assert_int_eq(ms_symbolizer_resolve_as(s, path, path, off + into[i], &fi), 0);
		ck_assert_str_eq(fi.function, want_fn);
		ck_assert_uint_eq(fi.offset, into[i]);
		ck_assert_str_eq(fi.object, base_name(path));
		ck_assert(addr2line(path, vaddr + into[i], file, sizeof(file), &line));
		ck_assert_str_eq(base_name(fi.file), want_src);
		ck_assert_str_eq(fi.file, file);
		ck_assert_int_eq(fi.line, line);
	}
}

START_TEST(c_functions)
{
	static const char *const fns[] = { "fixture_alloc_site_a", "fixture_alloc_site_b",
					   "fixture_static_helper", "main" };
	struct ms_symbolizer *s = ms_symbolizer_new();
	char path[128];
	size_t i;

	ck_assert(built.c);
	ck_assert_ptr_nonnull(s);
	path_in(path, sizeof(path), "sym_c");
	for (i = 0; i < sizeof(fns) / sizeof(fns[0]); i++)
		check_function(s, path, match_exact, fns[i], fns[i], "sym_fixture.c");
	ms_symbolizer_free(s);
}
END_TEST

/* addr2line -a -i -f for each of n addresses of path: for address k, its frames (function,
 * then "file:line" basename), innermost first, into fr[k] (at most 4); their count */
static void addr2line_inlined(const char *path, const uint64_t *addrs, size_t n,
			      char fr[][4][2][256], unsigned *nfr)
{
	char cmd[8192], line[1024];
	size_t len, i, k = (size_t)-1;
	unsigned j = 0;
	FILE *p;

	len = snprintf(cmd, sizeof(cmd), "addr2line -a -i -f -e %s", path);
	for (i = 0; i < n && len < sizeof(cmd) - 32; i++)
		len += snprintf(cmd + len, sizeof(cmd) - len, " 0x%llx",
				(unsigned long long)addrs[i]);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	while (fgets(line, sizeof(line), p)) {
		line[strcspn(line, "\n")] = '\0';
		if (!strncmp(line, "0x", 2)) { /* the next address */
			k++;
			nfr[k] = j = 0;
			continue;
		}
		if (k >= n || j >= 8)
			continue;
		if (j % 2 == 1) { /* file:line: its basename, the line without a discriminator */
			line[strcspn(line, " ")] = '\0';
			snprintf(fr[k][j / 2][1], 256, "%.255s", base_name(line));
			nfr[k] = j / 2 + 1;
		} else {
			snprintf(fr[k][j / 2][0], 256, "%.255s", line);
		}
		j++;
	}
	ck_assert_int_eq(pclose(p), 0);
}

/* Frames as ms_frame_format writes them, split back (--folded, pprof) */
#define CK_PARSE(frame, fn, file, line_)                                                           \
	do {                                                                                       \
		struct ms_frame_parts p_;                                                          \
		const char *f_ = (frame);                                                          \
                                                                                                   \
		ms_frame_parse(f_, &p_);                                                           \
		ck_assert_msg(p_.fn_len == strlen(fn) && !strncmp(f_, fn, p_.fn_len) &&            \
				      p_.file_len == strlen(file) &&                               \
				      !strncmp(f_ + p_.file_at, file, p_.file_len) &&              \
				      p_.line == (line_),                                          \
			      "%s: '%.*s' '%.*s' %lld", f_, (int)p_.fn_len, f_, (int)p_.file_len,  \
			      f_ + p_.file_at, (long long)p_.line);                                \
	} while (0)

START_TEST(frame_parse)
{
	struct ms_frame_parts p;

	CK_PARSE("grow+0x1c (app.c:12)", "grow", "app.c", 12);
	CK_PARSE("grow+0x1c (/src/app/app.c:12)", "grow", "/src/app/app.c", 12);
	CK_PARSE("operator new(unsigned long)+0x1c", "operator new(unsigned long)", "", 0);
	CK_PARSE("operator++0x8 (x.cc:3)", "operator+", "x.cc", 3);
	CK_PARSE("0x7f0012", "0x7f0012", "", 0);
	CK_PARSE("libfoo.so+0x3000", "libfoo.so", "", 0);
	CK_PARSE("alloc_node (leaks_nofp.c:35)", "alloc_node", "leaks_nofp.c", 35);
	CK_PARSE("f(std::pair<int, int>)", "f(std::pair<int, int>)", "", 0);
	ms_frame_parse("main+0x30 (main.c:40)", &p);
	ck_assert_str_eq("main+0x30 (main.c:40)" + p.where, " (main.c:40)");
}
END_TEST

/* Inlined calls by file name for reports, whole paths for pprof */
START_TEST(inlined_names_and_paths)
{
	struct ms_frame_info f = { .function = "grow", .offset = 0x1c, .line = 12 };
	char out[256];

	ms_inlined_base_names("a (src/x.c:3)\nb(int) (/abs/dir/y.c:4)\nc(int)\nd (z.c:5)\n", out,
			      sizeof(out));
	ck_assert_str_eq(out, "a (x.c:3)\nb(int) (y.c:4)\nc(int)\nd (z.c:5)\n");
	ms_inlined_base_names("", out, sizeof(out));
	ck_assert_str_eq(out, "");
	/* what does not fit is left out whole */
	ms_inlined_base_names("a (x.c:3)\nbbbbbbbb (y.c:4)\n", out, 12);
	ck_assert_str_eq(out, "a (x.c:3)\n");
	strcpy(f.file, "/src/app/app.c");
	ms_frame_format(&f, true, out, sizeof(out));
	ck_assert_str_eq(out, "grow+0x1c (app.c:12)");
	ms_frame_format_path(&f, out, sizeof(out));
	ck_assert_str_eq(out, "grow+0x1c (/src/app/app.c:12)");
}
END_TEST

/* Calls inlined at an address are frames of their own (the function, "file:line"),
 * innermost first, as addr2line -i gives them; the function they are in shows the line of
 * its outermost inlined call. Every address of fixture_inlined_site against addr2line. */
START_TEST(inlined_frames)
{
	static char fr[96][4][2][256];
	static unsigned nfr[96];
	struct ms_symbolizer *s = ms_symbolizer_new();
	struct ms_frame_info fi;
	uint64_t vaddr, off, addrs[96];
	char path[128], want[1024], outer[600], named[2048];
	size_t i, n = 96, chains = 0;
	unsigned k;

	ck_assert(built.c);
	path_in(path, sizeof(path), "sym_c");
	ck_assert(find_func(path, match_exact, "fixture_inlined_site", &vaddr, &off));
	for (i = 0; i < n; i++)
		addrs[i] = vaddr + i;
	addr2line_inlined(path, addrs, n, fr, nfr);
	for (i = 0; i < n; i++) {
		if (strcmp(fr[i][nfr[i] ? nfr[i] - 1 : 0][0], "fixture_inlined_site"))
			break; /* past the function */
		ck_assert_int_eq(ms_symbolizer_resolve_as(s, path, path, off + i, &fi), 0);
		want[0] = '\0';
		for (k = 0; k + 1 < nfr[i]; k++)
			snprintf(want + strlen(want), sizeof(want) - strlen(want), "%s (%s)\n",
				 fr[i][k][0], fr[i][k][1]);
		/* whole paths (for pprof), by name as reports show them */
		ms_inlined_base_names(fi.inlined, named, sizeof(named));
		ck_assert_msg(!strcmp(named, want), "+0x%zx: inlined '%s', addr2line '%s'", i,
			      named, want);
		ck_assert_msg(!want[0] || strstr(fi.inlined, " (/"),
			      "+0x%zx: inlined calls' files by whole path: '%s'", i, fi.inlined);
		snprintf(outer, sizeof(outer), "%s:%d", base_name(fi.file), fi.line);
		ck_assert_str_eq(fi.function, "fixture_inlined_site");
		ck_assert_msg(!strcmp(outer, fr[i][nfr[i] - 1][1]), "+0x%zx: %s, addr2line %s", i,
			      outer, fr[i][nfr[i] - 1][1]);
		chains += nfr[i] >= 3;
	}
	ck_assert_uint_gt(chains, 0); /* some addresses are two inlined calls deep */
	ms_symbolizer_free(s);
}
END_TEST

START_TEST(frame_format_of_resolved)
{
	struct ms_symbolizer *s = ms_symbolizer_new();
	struct ms_frame_info fi;
	char path[128], want[256], buf[256];
	uint64_t vaddr, off;

	ck_assert(built.c);
	path_in(path, sizeof(path), "sym_c");
	ck_assert(find_func(path, match_exact, "fixture_alloc_site_b", &vaddr, &off));
	ck_assert_int_eq(ms_symbolizer_resolve_as(s, path, path, off + 0x9, &fi), 0);
	snprintf(want, sizeof(want), "fixture_alloc_site_b+0x9 (sym_fixture.c:%d)", fi.line);
	ms_frame_format(&fi, true, buf, sizeof(buf));
	ck_assert_str_eq(buf, want);
	ms_frame_format(&fi, false, buf, sizeof(buf));
	ck_assert_str_eq(buf, "fixture_alloc_site_b+0x9");
	ck_assert_int_eq(ms_symbolizer_resolve_as(s, path, path, off, &fi), 0);
	ms_frame_format(&fi, false, buf, sizeof(buf));
	ck_assert_str_eq(buf, "fixture_alloc_site_b");
	ms_symbolizer_free(s);
}
END_TEST

START_TEST(cxx_demangled)
{
	struct ms_symbolizer *s = ms_symbolizer_new();
	char path[128];

	ck_assert(built.cc);
	path_in(path, sizeof(path), "sym_cc");
	check_function(s, path, match_exact, "_ZN2ns5Arena8AllocateEm",
		       "ns::Arena::Allocate(unsigned long)", "sym_fixture.cc");
	ms_symbolizer_free(s);
}
END_TEST

START_TEST(rust_demangled)
{
	static const char *const bins[] = { "rs_legacy", "rs_v0" };
	struct ms_symbolizer *s;
	char path[128];
	size_t i;

	if (!built.rust && !have("rustc"))
		return; /* said once by the fixture: no rustc here */
	ck_assert(built.rust);
	s = ms_symbolizer_new();
	for (i = 0; i < 2; i++) {
		path_in(path, sizeof(path), bins[i]);
		check_function(s, path, match_rust, NULL, "rust_fixture::make_leak",
			       "sym_fixture.rs");
	}
	ms_symbolizer_free(s);
}
END_TEST

START_TEST(split_debuginfo_by_build_id)
{
	struct ms_symbolizer *none = ms_symbolizer_new(), *s = ms_symbolizer_new();
	struct ms_frame_info fi;
	char path[128], full[128], nodebug[128], file[1024];
	uint64_t vaddr, off;
	int line;

	ck_assert(built.split);
	/* the stripped copy has the unstripped one's layout: same offsets */
	ck_assert(find_func(path_in(full, sizeof(full), "sym_c"), match_exact,
			    "fixture_alloc_site_a", &vaddr, &off));
	ck_assert(addr2line(full, vaddr, file, sizeof(file), &line));
	path_in(path, sizeof(path), "sym_c_split");
	ck_assert(!find_func(path, match_exact, "fixture_alloc_site_a", &vaddr, &off) ||
		  vaddr == 0);

	/* without the debug file: no name (not in .dynsym), no line */
	ck_assert_int_eq(ms_symbolizer_set_debug_path(none,
						      path_in(nodebug, sizeof(nodebug), "nodebug")),
			 0);
	ck_assert_int_eq(ms_symbolizer_resolve_as(none, path, path, off, &fi), 0);
	ck_assert_str_eq(fi.function, "");
	ck_assert_int_eq(fi.line, 0);
	ck_assert_uint_eq(fi.offset, off);
	ck_assert_str_eq(fi.object, "sym_c_split");

	/* with it, found by build-id alone (no .gnu_debuglink) */
	ck_assert_int_eq(ms_symbolizer_set_debug_path(s, debug_dir), 0);
	ck_assert_int_eq(ms_symbolizer_resolve_as(s, path, path, off, &fi), 0);
	ck_assert_str_eq(fi.function, "fixture_alloc_site_a");
	ck_assert_uint_eq(fi.offset, 0);
	ck_assert_str_eq(fi.file, file);
	ck_assert_int_eq(fi.line, line);
	ms_symbolizer_free(none);
	ms_symbolizer_free(s);
}
END_TEST

START_TEST(cached_per_build_id)
{
	struct ms_symbolizer *s = ms_symbolizer_new();
	struct ms_symbolizer_stats st;
	struct ms_frame_info a, b;
	char path[128], copy[128], link_path[128], cmd[1024];
	uint64_t vaddr, off_a, off_b;
	int i;

	ck_assert(built.c);
	path_in(path, sizeof(path), "sym_c");
	ck_assert(find_func(path, match_exact, "fixture_alloc_site_a", &vaddr, &off_a));
	ck_assert(find_func(path, match_exact, "fixture_alloc_site_b", &vaddr, &off_b));

	ck_assert_int_eq(ms_symbolizer_resolve_as(s, path, path, off_a, &a), 0);
	ms_symbolizer_stats(s, &st);
	ck_assert_uint_eq(st.file_opens, 1);
	ck_assert_uint_eq(st.modules_loaded, 1);
	ck_assert_uint_eq(st.addr_hits, 0);

	/* the same address again: from the address cache, the file not reopened */
	ck_assert_int_eq(ms_symbolizer_resolve_as(s, path, path, off_a, &b), 0);
	ck_assert_mem_eq(&a, &b, sizeof(a));
	ms_symbolizer_stats(s, &st);
	ck_assert_uint_eq(st.file_opens, 1);
	ck_assert_uint_eq(st.addr_hits, 1);

	/* another address of a known file: its module, no open */
	ck_assert_int_eq(ms_symbolizer_resolve_as(s, path, path, off_b, &b), 0);
	ck_assert_str_eq(b.function, "fixture_alloc_site_b");
	ms_symbolizer_stats(s, &st);
	ck_assert_uint_eq(st.file_opens, 1);
	ck_assert_uint_eq(st.modules_loaded, 1);
	ck_assert_uint_eq(st.addr_hits, 1);

	/* a thousand processes of one binary */
	for (i = 0; i < 1000; i++)
		ck_assert_int_eq(ms_symbolizer_resolve_as(s, path, path, i & 1 ? off_a : off_b, &b),
				 0);
	ms_symbolizer_stats(s, &st);
	ck_assert_uint_eq(st.file_opens, 1);
	ck_assert_uint_eq(st.modules_loaded, 1);
	ck_assert_uint_eq(st.addr_hits, 1001);

	/* a copy (another inode, the same build-id): its build-id read, nothing loaded,
	 * the answers already cached; a hard link is the same file */
	path_in(copy, sizeof(copy), "sym_c_copy");
	path_in(link_path, sizeof(link_path), "sym_c_link");
	snprintf(cmd, sizeof(cmd), "cp %s %s && ln -f %s %s", path, copy, path, link_path);
	ck_assert(run(cmd));
	ck_assert_int_eq(ms_symbolizer_resolve_as(s, copy, copy, off_a, &b), 0);
	ck_assert_str_eq(b.function, "fixture_alloc_site_a");
	ck_assert_str_eq(b.object, "sym_c_copy");
	ck_assert_int_eq(ms_symbolizer_resolve_as(s, link_path, link_path, off_a, &b), 0);
	ck_assert_str_eq(b.object, "sym_c_link");
	ms_symbolizer_stats(s, &st);
	ck_assert_uint_eq(st.file_opens, 2);
	ck_assert_uint_eq(st.modules_loaded, 1);
	ck_assert_uint_eq(st.addr_hits, 1003);
	ck_assert_uint_eq(st.addr_cached, 2);
	ck_assert_uint_eq(st.modules_cached, 1);
	ck_assert_uint_eq(st.errors, 0);
	ms_symbolizer_free(s);
}
END_TEST

START_TEST(no_build_id_keyed_by_file)
{
	struct ms_symbolizer *s = ms_symbolizer_new();
	struct ms_symbolizer_stats st;
	struct ms_frame_info fi;
	char path[128], copy[128], cmd[1024];
	uint64_t vaddr, off;

	ck_assert(built.c_nobid);
	path_in(path, sizeof(path), "sym_c_nobid");
	path_in(copy, sizeof(copy), "sym_c_nobid_copy");
	ck_assert(find_func(path, match_exact, "fixture_alloc_site_a", &vaddr, &off));
	snprintf(cmd, sizeof(cmd), "cp %s %s", path, copy);
	ck_assert(run(cmd));
	ck_assert_int_eq(ms_symbolizer_resolve_as(s, path, path, off, &fi), 0);
	ck_assert_str_eq(fi.function, "fixture_alloc_site_a");
	ck_assert_int_gt(fi.line, 0);
	ck_assert_int_eq(ms_symbolizer_resolve_as(s, path, path, off, &fi), 0);
	/* without a build-id, a copy cannot be known to be the same object */
	ck_assert_int_eq(ms_symbolizer_resolve_as(s, copy, copy, off, &fi), 0);
	ck_assert_str_eq(fi.function, "fixture_alloc_site_a");
	ms_symbolizer_stats(s, &st);
	ck_assert_uint_eq(st.file_opens, 2);
	ck_assert_uint_eq(st.modules_loaded, 2);
	ck_assert_uint_eq(st.addr_hits, 1);
	ms_symbolizer_free(s);
}
END_TEST

START_TEST(bounded_caches)
{
	static const char *const fns[] = { "fixture_alloc_site_a", "fixture_alloc_site_b",
					   "fixture_static_helper", "main" };
	struct ms_symbolizer *s = ms_symbolizer_new();
	struct ms_symbolizer_stats st;
	struct ms_frame_info fi;
	char path[128], cc[128];
	uint64_t vaddr, off[4], cc_off;
	int i;

	ck_assert(built.c && built.cc);
	path_in(path, sizeof(path), "sym_c");
	path_in(cc, sizeof(cc), "sym_cc");
	for (i = 0; i < 4; i++)
		ck_assert(find_func(path, match_exact, fns[i], &vaddr, &off[i]));
	ck_assert(find_func(cc, match_exact, "_ZN2ns5Arena8AllocateEm", &vaddr, &cc_off));
	ck_assert_int_eq(ms_symbolizer_set_limits(s, 3, 1), 0);

	/* 3 addresses fit: the 4th evicts the least recently used (the 1st) */
	for (i = 0; i < 4; i++) {
		ck_assert_int_eq(ms_symbolizer_resolve_as(s, path, path, off[i], &fi), 0);
		ck_assert_str_eq(fi.function, fns[i]);
	}
	ms_symbolizer_stats(s, &st);
	ck_assert_uint_eq(st.addr_cached, 3);
	ck_assert_uint_eq(st.addr_evicted, 1);
	ck_assert_int_eq(ms_symbolizer_resolve_as(s, path, path, off[3], &fi), 0);
	ms_symbolizer_stats(s, &st);
	ck_assert_uint_eq(st.addr_hits, 1);
	ck_assert_int_eq(ms_symbolizer_resolve_as(s, path, path, off[0], &fi), 0);
	ck_assert_str_eq(fi.function, fns[0]);
	ms_symbolizer_stats(s, &st);
	ck_assert_uint_eq(st.addr_hits, 1);

	/* one module: the C++ object drops the C one, which comes back when needed */
	ck_assert_int_eq(ms_symbolizer_resolve_as(s, cc, cc, cc_off, &fi), 0);
	ck_assert_str_eq(fi.function, "ns::Arena::Allocate(unsigned long)");
	ck_assert_int_eq(ms_symbolizer_resolve_as(s, path, path, off[2], &fi), 0);
	ck_assert_str_eq(fi.function, fns[2]);
	ms_symbolizer_stats(s, &st);
	ck_assert_uint_eq(st.modules_loaded, 3);
	ck_assert_uint_eq(st.modules_evicted, 2);
	ck_assert_uint_eq(st.modules_cached, 1);
	ck_assert_uint_le(st.addr_cached, 3);
	ms_symbolizer_free(s);
}
END_TEST

START_TEST(own_function_through_map_files)
{
	struct ms_symbolizer *s = ms_symbolizer_new();
	struct ms_frame_info fi;
	char line[1024], exe[1024], mf[128];
	uint64_t addr = (uint64_t)(uintptr_t)ms_sym_unit_target;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	bool found = false;
	FILE *maps;

	ck_assert_int_gt(n, 0);
	exe[n] = '\0';
	maps = fopen("/proc/self/maps", "r");
	ck_assert_ptr_nonnull(maps);
	while (!found && fgets(line, sizeof(line), maps)) {
		unsigned long long start, end, pgoff;

		if (sscanf(line, "%llx-%llx %*s %llx", &start, &end, &pgoff) != 3 || addr < start ||
		    addr >= end)
			continue;
		snprintf(mf, sizeof(mf), "/proc/self/map_files/%llx-%llx", start, end);
		/* map_files needs CAP_SYS_ADMIN before Linux 4.3; the path works as well */
		if (access(mf, R_OK))
			snprintf(mf, sizeof(mf), "/proc/self/exe");
		ck_assert_int_eq(ms_symbolizer_resolve_as(s, mf, mf, addr - start + pgoff, &fi), 0);
		found = true;
	}
	fclose(maps);
	ck_assert(found);
	ck_assert_str_eq(fi.function, "ms_sym_unit_target");
	ck_assert_uint_eq(fi.offset, 0);
	ck_assert_str_eq(fi.object, base_name(exe));
	ck_assert_str_eq(base_name(fi.file), "test_symbolizer.c");
	ms_symbolizer_free(s);
}
END_TEST

START_TEST(other_root_path)
{
	struct ms_symbolizer *s = ms_symbolizer_new();
	struct ms_frame_info fi;
	char path[256], full[128];
	uint64_t vaddr, off;

	ck_assert(built.split);
	ck_assert(find_func(path_in(full, sizeof(full), "sym_c"), match_exact,
			    "fixture_static_helper", &vaddr, &off));
	snprintf(path, sizeof(path), "/proc/self/root%s/sym_c_split", tmp);
	ck_assert_int_eq(ms_symbolizer_set_debug_path(s, debug_dir), 0);
	ck_assert_int_eq(ms_symbolizer_resolve_as(s, path, path, off, &fi), 0);
	ck_assert_str_eq(fi.function, "fixture_static_helper");
	ck_assert_int_gt(fi.line, 0);
	ck_assert_str_eq(fi.object, "sym_c_split");
	ms_symbolizer_free(s);
}
END_TEST

START_TEST(unusable_files)
{
	struct ms_symbolizer *s = ms_symbolizer_new();
	struct ms_symbolizer_stats st;
	struct ms_frame_info fi;
	char path[128], text[128], buf[128];
	uint64_t vaddr, off;
	FILE *f;

	ck_assert_int_eq(ms_symbolizer_resolve_as(s, "/nonexistent/libnothing.so",
						  "/nonexistent/libnothing.so", 0x1000, &fi),
			 -ENOENT);
	ck_assert_str_eq(fi.object, "libnothing.so");
	ck_assert_str_eq(fi.function, "");
	ms_frame_format(&fi, true, buf, sizeof(buf));
	ck_assert_str_eq(buf, "libnothing.so+0x1000");
	ck_assert_int_eq(ms_symbolizer_resolve_as(s, tmp, tmp, 0, &fi), -ENOEXEC);
	f = fopen(path_in(text, sizeof(text), "text"), "w");
	ck_assert_ptr_nonnull(f);
	fputs("not an ELF file\n", f);
	fclose(f);
	ck_assert_int_eq(ms_symbolizer_resolve_as(s, text, text, 0, &fi), -ENOEXEC);
	/* known to be bad: not reopened */
	ck_assert_int_eq(ms_symbolizer_resolve_as(s, text, text, 4, &fi), -ENOEXEC);
	/* the directory is not opened, the text file once */
	ms_symbolizer_stats(s, &st);
	ck_assert_uint_eq(st.file_opens, 1);
	ck_assert_uint_eq(st.errors, 4);

	/* an offset outside every PT_LOAD: no function, the file offset kept */
	ck_assert(built.c);
	path_in(path, sizeof(path), "sym_c");
	ck_assert(find_func(path, match_exact, "main", &vaddr, &off));
	ck_assert_int_eq(ms_symbolizer_resolve_as(s, path, path, 0x7fffffff, &fi), 0);
	ck_assert_str_eq(fi.function, "");
	ck_assert_uint_eq(fi.offset, 0x7fffffff);
	ms_frame_format(&fi, true, buf, sizeof(buf));
	ck_assert_str_eq(buf, "sym_c+0x7fffffff");
	ck_assert_int_eq(ms_symbolizer_resolve_as(NULL, path, path, 0, &fi), -EINVAL);
	ms_symbolizer_free(s);
	ms_symbolizer_free(NULL);
}
END_TEST

/* Writes len bytes of data to tmp/name */
static void write_file(const char *name, const void *data, size_t len, char *path, size_t plen)
{
	FILE *f = fopen(path_in(path, plen, name), "w");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

static void *read_whole(const char *path, size_t *len)
{
	struct stat st;
	void *buf;
	FILE *f = fopen(path, "r");

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fstat(fileno(f), &st), 0);
	buf = malloc(st.st_size);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, st.st_size, f), (size_t)st.st_size);
	fclose(f);
	*len = st.st_size;
	return buf;
}

/* One resolve of a damaged copy by a fresh symbolizer: an error or an answer, no crash */
static int resolve_damaged(const char *path, uint64_t off)
{
	struct ms_symbolizer *s = ms_symbolizer_new();
	struct ms_frame_info fi;
	char buf[2048];
	int err;

	ck_assert_ptr_nonnull(s);
	memset(&fi, 0x55, sizeof(fi));
	err = ms_symbolizer_resolve_as(s, path, path, off, &fi);
	ck_assert(err == 0 || (err < 0 && err > -4096));
	ck_assert_uint_lt(strnlen(fi.function, sizeof(fi.function)), sizeof(fi.function));
	ck_assert_uint_lt(strnlen(fi.file, sizeof(fi.file)), sizeof(fi.file));
	ck_assert_uint_lt(strnlen(fi.object, sizeof(fi.object)), sizeof(fi.object));
	ms_frame_format(&fi, true, buf, sizeof(buf));
	/* and once more, from whichever cache */
	ck_assert_int_eq(ms_symbolizer_resolve_as(s, path, path, off, &fi), err);
	ms_symbolizer_free(s);
	return err;
}

START_TEST(truncated_copies)
{
	char src[128], path[128];
	uint64_t vaddr, off;
	size_t len, cut, i, tried = 0;
	unsigned char *bin;

	ck_assert(built.c);
	path_in(src, sizeof(src), "sym_c");
	ck_assert(find_func(src, match_exact, "fixture_alloc_site_a", &vaddr, &off));
	bin = read_whole(src, &len);
	for (i = 0; i < 200; i++) {
		static const size_t small[] = { 0, 1, 4, 16, 52, 63, 64, 65, 120, 400, 1000, 4095 };
		char name[32];

		if (i < sizeof(small) / sizeof(small[0]))
			cut = small[i];
		else
			cut = (len * (i - 12)) / 188 + (i & 7);
		if (cut >= len)
			continue;
		snprintf(name, sizeof(name), "trunc_%zu", cut);
		write_file(name, bin, cut, path, sizeof(path));
		/* every cut loses at least the section headers at the end */
		ck_assert_int_eq(resolve_damaged(path, off), -ENOEXEC);
		tried++;
		unlink(path);
	}
	ck_assert_uint_gt(tried, 150);
	free(bin);
}
END_TEST

START_TEST(corrupt_copies)
{
	char src[128], path[128];
	uint64_t vaddr, off, rnd = 0x9e3779b97f4a7c15ULL;
	size_t len, i, k;
	unsigned char *bin, *bad;

	ck_assert(built.c);
	path_in(src, sizeof(src), "sym_c");
	ck_assert(find_func(src, match_exact, "fixture_alloc_site_a", &vaddr, &off));
	bin = read_whole(src, &len);
	bad = malloc(len);
	ck_assert_ptr_nonnull(bad);
	for (i = 0; i < 300; i++) {
		memcpy(bad, bin, len);
		/* a few random bytes: in the headers (first 4 KiB), or in the section
		 * headers and tables at the end, or anywhere */
		for (k = 0; k < 1 + i % 8; k++) {
			size_t at;

			rnd ^= rnd << 13;
			rnd ^= rnd >> 7;
			rnd ^= rnd << 17;
			switch (i % 3) {
			case 0:
				at = rnd % (len < 4096 ? len : 4096);
				break;
			case 1:
				at = len - 1 - rnd % (len / 4);
				break;
			default:
				at = rnd % len;
			}
			bad[at] = (unsigned char)(rnd >> 32);
		}
		write_file("corrupt", bad, len, path, sizeof(path));
		resolve_damaged(path, off);
		unlink(path);
	}
	free(bad);
	free(bin);
}
END_TEST

START_TEST(corrupt_debug_files)
{
	char full[128], split[128], hex[130], dir[256], dbg[512], cmd[1024], src[512];
	uint64_t vaddr, off, rnd = 0x2545f4914f6cdd1dULL;
	size_t len, i, k;
	unsigned char *good, *bad;

	ck_assert(built.split);
	ck_assert(find_func(path_in(full, sizeof(full), "sym_c"), match_exact,
			    "fixture_alloc_site_a", &vaddr, &off));
	path_in(split, sizeof(split), "sym_c_split");
	ck_assert_int_eq(build_id_hex(split, hex, sizeof(hex)), 0);
	snprintf(src, sizeof(src), "%s/.build-id/%.2s/%s.debug", debug_dir, hex, hex + 2);
	good = read_whole(src, &len);
	bad = malloc(len);
	ck_assert_ptr_nonnull(bad);
	snprintf(dir, sizeof(dir), "%s/baddebug", tmp);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/.build-id/%.2s", dir, hex);
	ck_assert(run(cmd));
	snprintf(dbg, sizeof(dbg), "%s/.build-id/%.2s/%s.debug", dir, hex, hex + 2);
	for (i = 0; i < 150; i++) {
		struct ms_symbolizer *s = ms_symbolizer_new();
		struct ms_frame_info fi;
		size_t n = len;
		FILE *f;

		memcpy(bad, good, len);
		for (k = 0; k < 1 + i % 8; k++) {
			rnd ^= rnd << 13;
			rnd ^= rnd >> 7;
			rnd ^= rnd << 17;
			if (i % 5 == 4)
				n = rnd % len; /* truncated */
			else
				bad[rnd % len] = (unsigned char)(rnd >> 32);
		}
		f = fopen(dbg, "w");
		ck_assert_ptr_nonnull(f);
		ck_assert_uint_eq(fwrite(bad, 1, n, f), n);
		fclose(f);
		/* the object itself is sound: an answer, with or without names */
		ck_assert_int_eq(ms_symbolizer_set_debug_path(s, dir), 0);
		ck_assert_int_eq(ms_symbolizer_resolve_as(s, split, split, off, &fi), 0);
		ck_assert_str_eq(fi.object, "sym_c_split");
		ms_symbolizer_free(s);
	}
	free(bad);
	free(good);
}
END_TEST

/* The debug file libdw has mapped is truncated (by its owner) before the next address:
 * that answer fails (SIGBUS caught, counted), the module is loaded again without it */
START_TEST(debug_file_shrinks)
{
	char full[128], split[128], hex[130], dir[256], dbg[512], cmd[2048], src[512];
	uint64_t va, vb, off_a, off_b;
	struct ms_symbolizer_stats st;
	struct ms_frame_info fi;
	struct ms_symbolizer *s;

	ck_assert(built.split);
	path_in(full, sizeof(full), "sym_c");
	ck_assert(find_func(full, match_exact, "fixture_alloc_site_a", &va, &off_a));
	ck_assert(find_func(full, match_exact, "fixture_alloc_site_b", &vb, &off_b));
	path_in(split, sizeof(split), "sym_c_split");
	ck_assert_int_eq(build_id_hex(split, hex, sizeof(hex)), 0);
	snprintf(src, sizeof(src), "%s/.build-id/%.2s/%s.debug", debug_dir, hex, hex + 2);
	snprintf(dir, sizeof(dir), "%s/shrinks", tmp);
	snprintf(dbg, sizeof(dbg), "%s/.build-id/%.2s/%s.debug", dir, hex, hex + 2);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/.build-id/%.2s && cp %s %s", dir, hex, src, dbg);
	ck_assert(run(cmd));
	s = ms_symbolizer_new();
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(ms_symbolizer_set_debug_path(s, dir), 0);
	ck_assert_int_eq(ms_symbolizer_resolve_as(s, split, split, off_a, &fi), 0);
	ck_assert_str_eq(fi.function, "fixture_alloc_site_a");
	ck_assert_int_gt(fi.line, 0);
	ck_assert_int_eq(truncate(dbg, 0), 0);
	ck_assert_int_eq(ms_symbolizer_resolve_as(s, split, split, off_b, &fi), -EIO);
	ms_symbolizer_stats(s, &st);
	ck_assert_uint_eq(st.faults, 1);
	ck_assert_uint_eq(st.modules_cached, 0);
	/* loaded again: the debug file is no ELF now, the object answers without it */
	ck_assert_int_eq(ms_symbolizer_resolve_as(s, split, split, off_b, &fi), 0);
	ck_assert_str_eq(fi.object, "sym_c_split");
	ck_assert_int_eq(fi.line, 0);
	/* the answer given before the truncation stays */
	ck_assert_int_eq(ms_symbolizer_resolve_as(s, split, split, off_a, &fi), 0);
	ck_assert_str_eq(fi.function, "fixture_alloc_site_a");
	ms_symbolizer_stats(s, &st);
	ck_assert_uint_eq(st.faults, 1);
	ms_symbolizer_free(s);
}
END_TEST

/* A FIFO where a debug file would be (a traced process' /usr/lib/debug, or next to its
 * object): never opened, the object resolved without it; the real file found in its place */
START_TEST(fifo_debug_files)
{
	struct ms_symbolizer *s;
	struct ms_frame_info fi;
	char full[128], split[128], hex[130], dir[256], dbg[512], cmd[4096], src[512], dl[128],
		dlobj[256], dldbg[256];
	uint64_t vaddr, off;

	alarm(60); /* a blocking open would hang here */
	ck_assert(built.split);
	ck_assert(find_func(path_in(full, sizeof(full), "sym_c"), match_exact,
			    "fixture_alloc_site_a", &vaddr, &off));
	path_in(split, sizeof(split), "sym_c_split");
	ck_assert_int_eq(build_id_hex(split, hex, sizeof(hex)), 0);
	snprintf(src, sizeof(src), "%s/.build-id/%.2s/%s.debug", debug_dir, hex, hex + 2);

	/* by build-id */
	snprintf(dir, sizeof(dir), "%s/fifodebug", tmp);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/.build-id/%.2s", dir, hex);
	ck_assert(run(cmd));
	snprintf(dbg, sizeof(dbg), "%s/.build-id/%.2s/%s.debug", dir, hex, hex + 2);
	ck_assert_int_eq(mkfifo(dbg, 0600), 0);
	s = ms_symbolizer_new();
	ck_assert_int_eq(ms_symbolizer_set_debug_path(s, dir), 0);
	ck_assert_int_eq(ms_symbolizer_resolve_as(s, split, split, off, &fi), 0);
	ck_assert_str_eq(fi.function, "");
	ms_symbolizer_free(s);
	unlink(dbg);
	ck_assert_int_eq(link(src, dbg), 0);
	s = ms_symbolizer_new();
	ck_assert_int_eq(ms_symbolizer_set_debug_path(s, dir), 0);
	ck_assert_int_eq(ms_symbolizer_resolve_as(s, split, split, off, &fi), 0);
	ck_assert_str_eq(fi.function, "fixture_alloc_site_a");
	ms_symbolizer_free(s);

	/* by .gnu_debuglink, in the object's directory */
	snprintf(dl, sizeof(dl), "%s/dl", tmp);
	snprintf(dlobj, sizeof(dlobj), "%s/sym_c_dl", dl);
	snprintf(dldbg, sizeof(dldbg), "%s/sym_c_dl.debug", dl);
	snprintf(cmd, sizeof(cmd),
		 "mkdir -p %1$s && cp %2$s %3$s && cp %4$s %5$s && "
		 "objcopy --add-gnu-debuglink=%5$s %3$s && rm %5$s",
		 dl, split, dlobj, src, dldbg);
	ck_assert(run(cmd));
	ck_assert_int_eq(mkfifo(dldbg, 0600), 0);
	s = ms_symbolizer_new();
	ck_assert_int_eq(ms_symbolizer_set_debug_path(s, "-:.debug:/nonexistent-ms"), 0);
	ck_assert_int_eq(ms_symbolizer_resolve_as(s, dlobj, dlobj, off, &fi), 0);
	ck_assert_str_eq(fi.function, "");
	ms_symbolizer_free(s);
	unlink(dldbg);
	ck_assert_int_eq(link(src, dldbg), 0);
	s = ms_symbolizer_new();
	ck_assert_int_eq(ms_symbolizer_set_debug_path(s, "-:.debug:/nonexistent-ms"), 0);
	ck_assert_int_eq(ms_symbolizer_resolve_as(s, dlobj, dlobj, off, &fi), 0);
	ck_assert_str_eq(fi.function, "fixture_alloc_site_a");
	ms_symbolizer_free(s);

	/* the object itself a FIFO */
	unlink(dldbg);
	ck_assert_int_eq(mkfifo(dldbg, 0600), 0);
	s = ms_symbolizer_new();
	ck_assert_int_eq(ms_symbolizer_resolve_as(s, dldbg, dldbg, off, &fi), -ENOEXEC);
	ck_assert_int_eq(ms_symbolizer_resolve_as(s, dldbg, split, off, &fi), -ENOEXEC);
	ms_symbolizer_free(s);
	alarm(0);
}
END_TEST

/* An object read through a pinned descriptor, named by the path it was mapped at */
START_TEST(resolve_as_named)
{
	struct ms_symbolizer *s = ms_symbolizer_new();
	struct ms_frame_info fi;
	char full[128], split[128], pinned[64], name[256];
	uint64_t vaddr, off;
	int fd;

	ck_assert(built.split);
	ck_assert(find_func(path_in(full, sizeof(full), "sym_c"), match_exact,
			    "fixture_static_helper", &vaddr, &off));
	fd = open(path_in(split, sizeof(split), "sym_c_split"), O_PATH | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	snprintf(pinned, sizeof(pinned), "/proc/self/fd/%d", fd);
	ck_assert_int_eq(ms_symbolizer_set_debug_path(s, debug_dir), 0);
	snprintf(name, sizeof(name), "/proc/self/root%s/libnamed.so.1", tmp);
	ck_assert_int_eq(ms_symbolizer_resolve_as(s, pinned, name, off, &fi), 0);
	ck_assert_str_eq(fi.function, "fixture_static_helper");
	ck_assert_int_gt(fi.line, 0);
	ck_assert_str_eq(fi.object, "libnamed.so.1");
	ck_assert_int_eq(ms_symbolizer_resolve_as(s, pinned, NULL, off, &fi), -EINVAL);
	close(fd);
	ms_symbolizer_free(s);
}
END_TEST

/* A 128 MiB object, 8 KiB on disk, with sections e as its section headers (section 0
 * first), one PT_LOAD */
static void sparse_object(const char *path, const Elf64_Shdr *e, unsigned n, const void *data,
			  size_t len, uint64_t at)
{
	Elf64_Ehdr eh = { .e_type = ET_DYN, .e_machine = EM_X86_64, .e_version = EV_CURRENT };
	Elf64_Phdr ph = { .p_type = PT_LOAD,
			  .p_flags = PF_R | PF_X,
			  .p_filesz = 4096,
			  .p_memsz = 4096,
			  .p_align = 4096 };
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	eh.e_ehsize = sizeof(eh);
	eh.e_phoff = sizeof(eh);
	eh.e_phentsize = sizeof(ph);
	eh.e_phnum = 1;
	eh.e_shoff = 4096;
	eh.e_shentsize = sizeof(Elf64_Shdr);
	eh.e_shnum = n;
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, &eh, sizeof(eh), 0), sizeof(eh));
	ck_assert_int_eq(pwrite(fd, &ph, sizeof(ph), sizeof(eh)), sizeof(ph));
	ck_assert_int_eq(pwrite(fd, e, n * sizeof(*e), 4096), (ssize_t)(n * sizeof(*e)));
	if (len)
		ck_assert_int_eq(pwrite(fd, data, len, at), (ssize_t)len);
	ck_assert_int_eq(ftruncate(fd, 128 << 20), 0);
	close(fd);
}

/* Objects built to cost: eight symbol tables over a sparse 128 MiB file, a compressed
 * section that would inflate to 1 GiB; refused at once (-EFBIG), in a few MiB */
START_TEST(costly_objects)
{
	Elf64_Chdr ch = { .ch_type = ELFCOMPRESS_ZLIB, .ch_size = 1ull << 30, .ch_addralign = 1 };
	Elf64_Shdr e[10];
	struct ms_symbolizer *s;
	struct ms_frame_info fi;
	struct rusage ru;
	char path[128];
	long rss;
	time_t t;
	unsigned i;

	alarm(30);
	path_in(path, sizeof(path), "costly.so");
	memset(e, 0, sizeof(e));
	for (i = 1; i <= 8; i++)
		e[i] = (Elf64_Shdr){ .sh_type = SHT_SYMTAB,
				     .sh_size = (128 << 20) / 24 * 24,
				     .sh_link = 9,
				     .sh_entsize = sizeof(Elf64_Sym) };
	e[9] = (Elf64_Shdr){ .sh_type = SHT_STRTAB, .sh_size = 128 << 20 };
	sparse_object(path, e, 10, NULL, 0, 0);
	getrusage(RUSAGE_SELF, &ru);
	rss = ru.ru_maxrss;
	t = time(NULL);
	s = ms_symbolizer_new();
	ck_assert_int_eq(ms_symbolizer_resolve_as(s, path, path, 0x100, &fi), -EFBIG);
	ms_symbolizer_free(s);
	memset(e, 0, sizeof(e));
	e[1] = (Elf64_Shdr){ .sh_type = SHT_PROGBITS,
			     .sh_flags = SHF_COMPRESSED,
			     .sh_offset = 8192,
			     .sh_size = 4096,
			     .sh_addralign = 1 };
	sparse_object(path, e, 2, &ch, sizeof(ch), 8192);
	s = ms_symbolizer_new();
	ck_assert_int_eq(ms_symbolizer_resolve_as(s, path, path, 0x100, &fi), -EFBIG);
	ms_symbolizer_free(s);
	getrusage(RUSAGE_SELF, &ru);
	ck_assert_int_lt(ru.ru_maxrss - rss, 16 * 1024);
	ck_assert_int_le(time(NULL) - t, 2);
	unlink(path);
	alarm(0);
}
END_TEST

START_TEST(demangling)
{
	static const struct {
		const char *sym, *want;
	} cases[] = {
		{ "_ZN2ns5Arena8AllocateEm", "ns::Arena::Allocate(unsigned long)" },
		{ "_ZN2ns5Arena8AllocateEm.cold",
		  "ns::Arena::Allocate(unsigned long) [clone .cold]" },
		{ "_Znwm", "operator new(unsigned long)" },
		/* Rust legacy: the hash dropped, $-escapes decoded */
		{ "_ZN12rust_fixture9make_leak17h568209e7123d2483E", "rust_fixture::make_leak" },
		{ "_ZN3std2rt10lang_start28_$u7b$$u7b$closure$u7d$$u7d$17ha86af84d9cc65291E",
		  "std::rt::lang_start::{{closure}}" },
		/* Rust v0: crate disambiguators dropped */
		{ "_RNvCslJ4BMlTYkcv_12rust_fixture9make_leak", "rust_fixture::make_leak" },
		{ "_RNvNtCs1234_7mycrate3foo3bar", "mycrate::foo::bar" },
		{ "_RINvMNtCsgEmfK2I1SDS_4core3stre18trim_start_matchesReECsgY6Mt91CT9J_14rustc_"
		  "demangle",
		  "<str>::trim_start_matches::<&str>" },
		/* C names, versions, and what is not a valid mangling stay as they are */
		{ "malloc", "malloc" },
		{ "memcpy@@GLIBC_2.14", "memcpy" },
		{ "_Z", "_Z" },
		{ "_Rxyz", "_Rxyz" },
		{ "", "" },
	};
	char buf[512];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ms_demangle(cases[i].sym, buf, sizeof(buf));
		ck_assert_str_eq(buf, cases[i].want);
	}
	ms_demangle("_ZN2ns5Arena8AllocateEm", buf, 8);
	ck_assert_str_eq(buf, "ns::Are");
}
END_TEST

START_TEST(frame_format)
{
	struct ms_frame_info f = { .function = "ns::Arena::Allocate(unsigned long)",
				   .offset = 0x12,
				   .file = "/src/arena.cc",
				   .line = 42,
				   .object = "arena" };
	char buf[128];

	ms_frame_format(&f, true, buf, sizeof(buf));
	ck_assert_str_eq(buf, "ns::Arena::Allocate(unsigned long)+0x12 (arena.cc:42)");
	ms_frame_format(&f, false, buf, sizeof(buf));
	ck_assert_str_eq(buf, "ns::Arena::Allocate(unsigned long)+0x12");
	ms_frame_format(&f, true, buf, 12);
	ck_assert_str_eq(buf, "ns::Arena::");
	f.offset = 0;
	snprintf(f.file, sizeof(f.file), "plain.c");
	ms_frame_format(&f, true, buf, sizeof(buf));
	ck_assert_str_eq(buf, "ns::Arena::Allocate(unsigned long) (plain.c:42)");
	f.line = 0;
	ms_frame_format(&f, true, buf, sizeof(buf));
	ck_assert_str_eq(buf, "ns::Arena::Allocate(unsigned long)");
	f.function[0] = '\0';
	f.offset = 0x4f0;
	ms_frame_format(&f, true, buf, sizeof(buf));
	ck_assert_str_eq(buf, "arena+0x4f0");
	f.object[0] = '\0';
	ms_frame_format(&f, true, buf, sizeof(buf));
	ck_assert_str_eq(buf, "[unknown]");
	ms_frame_format(&f, true, buf, 0);
}
END_TEST

Suite *symbolizer_suite(void)
{
	Suite *s = suite_create("symbolizer");
	TCase *tc = tcase_create("objects");
	TCase *pure = tcase_create("names");

	tcase_add_unchecked_fixture(tc, fixtures_build, fixtures_remove);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, c_functions);
	tcase_add_test(tc, frame_format_of_resolved);
	tcase_add_test(tc, inlined_frames);
	tcase_add_test(tc, inlined_names_and_paths);
	tcase_add_test(tc, frame_parse);
	tcase_add_test(tc, cxx_demangled);
	tcase_add_test(tc, rust_demangled);
	tcase_add_test(tc, split_debuginfo_by_build_id);
	tcase_add_test(tc, cached_per_build_id);
	tcase_add_test(tc, no_build_id_keyed_by_file);
	tcase_add_test(tc, bounded_caches);
	tcase_add_test(tc, own_function_through_map_files);
	tcase_add_test(tc, other_root_path);
	tcase_add_test(tc, unusable_files);
	tcase_add_test(tc, truncated_copies);
	tcase_add_test(tc, corrupt_copies);
	tcase_add_test(tc, corrupt_debug_files);
	tcase_add_test(tc, fifo_debug_files);
	tcase_add_test(tc, debug_file_shrinks);
	tcase_add_test(tc, resolve_as_named);
	tcase_add_test(tc, costly_objects);
	suite_add_tcase(s, tc);
	tcase_add_test(pure, demangling);
	tcase_add_test(pure, frame_format);
	suite_add_tcase(s, pure);
	return s;
}
