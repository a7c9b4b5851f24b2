# memscope-bpf: build the BPF objects, their skeletons, the daemon, tests and demo
# Targets: all (default), check (unit tests and golden replays, no root), e2e (root), test, demo, deps,
# install, format, format-check, clean.  SANITIZE=1 builds with ASan+UBSan.

PREFIX ?= /usr/local
ifeq ($(SANITIZE),1)
OUT ?= build/sanitize
else
OUT ?= build
endif
CC ?= cc
CLANG ?= clang
BPFTOOL ?= bpftool
ARCH := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')

CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter -Werror -MMD -MP \
	  -Iinclude -Ipreload -I$(OUT) -DMS_LIBDIR='"$(PREFIX)/lib/memscope-bpf"'
LDLIBS := -lbpf -lelf -ldw -lz -llzma -lcapstone -lmicrohttpd -liberty -lprotobuf-c -ljansson \
	  -lstdc++ -lpthread -lm
ifeq ($(SANITIZE),1)
CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
else
# A record's path crosses modules (the rings, the merge, the statistics, the live table,
# the sites): optimized across them at link time, a record costs the daemon 12% less
# (make bench's daemon row, and the in-process pairs row that runs at its pace)
LTO ?= -flto=auto
CFLAGS += $(LTO)
LDFLAGS += $(LTO)
endif

# vmlinux.h: from the running kernel's BTF when it has one, else the committed copy
VMLINUX_BTF := /sys/kernel/btf/vmlinux
ifneq ($(wildcard $(VMLINUX_BTF)),)
VMLINUX_H := $(OUT)/vmlinux/vmlinux.h
else
VMLINUX_H := vmlinux/$(ARCH)/vmlinux.h
endif

USER_SRCS := $(wildcard user/*.c)
LIB_SRCS := $(filter-out user/main.c,$(USER_SRCS))
# pprof's profile.proto, as Debian's golang-github-google-pprof-dev ships it, compiled with
# protoc-c (protobuf-c-compiler) into $(OUT)/proto
PPROF_PROTO ?= /usr/share/gocode/src/github.com/google/pprof/proto/profile.proto
PROTO_GEN := $(OUT)/proto/profile.pb-c.h
# the in-process stack table: written in the command (the preloaded library), read here
LIB_OBJS := $(patsubst user/%.c,$(OUT)/user/%.o,$(LIB_SRCS)) $(OUT)/proto/profile.pb-c.o \
	    $(OUT)/preload/stacktab.o
BPF_SRCS := $(wildcard bpf/*.bpf.c)
SKELS := $(patsubst bpf/%.bpf.c,$(OUT)/%.skel.h,$(BPF_SRCS))
UNIT_SRCS := $(wildcard tests/unit/*.c)
WORKLOAD_SRCS := $(wildcard tests/e2e/workloads/*.c)
WORKLOAD_CXX := $(wildcard tests/e2e/workloads/*.cc)
WORKLOADS := $(patsubst tests/e2e/workloads/%.c,$(OUT)/workloads/%,$(WORKLOAD_SRCS)) \
	     $(patsubst tests/e2e/workloads/%.cc,$(OUT)/workloads/%,$(WORKLOAD_CXX)) \
	     $(patsubst tests/e2e/workloads/plugin/%.c,$(OUT)/workloads/lib%.so,\
			$(wildcard tests/e2e/workloads/plugin/*.c))
# --in-process: the allocator families with a preload library of their own (preload/NAME.c)
PRELOAD_FAMILIES := jemalloc tcmalloc mimalloc stdcxx
PRELOAD_FAMILY_LIBS := $(patsubst %,$(OUT)/libmemscope-preload-%.so,$(PRELOAD_FAMILIES))
RUSTC ?= $(shell command -v rustc || echo $$HOME/.cargo/bin/rustc)
RUST_WORKLOADS := $(if $(wildcard $(RUSTC)),$(OUT)/workloads/rust_alloc)

.SECONDARY:
.PHONY: all check e2e test demo deps install uninstall format format-check clean vm vm-test bench fuzz
all: $(OUT)/memscope-bpf $(OUT)/libmemscope-preload.so $(PRELOAD_FAMILY_LIBS) $(OUT)/memscope-demo \
     $(WORKLOADS) $(RUST_WORKLOADS)

$(OUT)/vmlinux/vmlinux.h:
	@mkdir -p $(dir $@)
	$(BPFTOOL) btf dump file $(VMLINUX_BTF) format c > $@.tmp && mv $@.tmp $@

$(OUT)/%.bpf.o: bpf/%.bpf.c include/memscope.h $(VMLINUX_H)
	@mkdir -p $(dir $@)
	$(CLANG) -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) -Wall -Werror \
		-Iinclude -I$(dir $(VMLINUX_H)) -c $< -o $@
	llvm-strip -g $@

$(OUT)/%.skel.h: $(OUT)/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $(subst -,_,$*) > $@.tmp && mv $@.tmp $@

$(OUT)/user/%.o: user/%.c | $(SKELS) $(PROTO_GEN)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(OUT)/preload/%.o: preload/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(OUT)/proto/profile.pb-c.c $(OUT)/proto/profile.pb-c.h: $(PPROF_PROTO)
	@mkdir -p $(OUT)/proto
	protoc-c --c_out=$(OUT)/proto -I$(dir $(PPROF_PROTO)) $(PPROF_PROTO)

$(OUT)/proto/profile.pb-c.o: $(OUT)/proto/profile.pb-c.c $(OUT)/proto/profile.pb-c.h
	$(CC) $(CFLAGS) -c $< -o $@

# The --html page's style and script (user/html/), as C string literals html.c includes
HTML_GEN := $(OUT)/html/page.css.h $(OUT)/html/page.js.h
$(OUT)/html/%.h: user/html/%
	@mkdir -p $(dir $@)
	sed 's/\\/\\\\/g; s/"/\\"/g; s/^/"/; s/$$/\\n"/' $< > $@.tmp && mv $@.tmp $@
$(OUT)/user/html.o: $(HTML_GEN)

$(OUT)/memscope-bpf: $(OUT)/user/main.o $(LIB_OBJS)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# --in-process: the library preloaded into the command, never built with the sanitizers
# (it is the command's malloc): the C library's interposers over the shim (the state, rings,
# records, nesting), built together so that the shim's calls are inlined
PRELOAD_CFLAGS := -O2 -g -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter -Werror \
	-fPIC -fvisibility=hidden -fno-semantic-interposition -Iinclude
# (--stacks: libunwind is loaded by the library at its start, local to it: no DT_NEEDED)
$(OUT)/libmemscope-preload.so: preload/shim.c preload/preload.c preload/stacktab.c \
			       preload/shim.h preload/stacktab.h include/memscope_shm.h \
			       include/memscope.h
	@mkdir -p $(dir $@)
	$(CC) $(PRELOAD_CFLAGS) -flto -shared -Wl,-soname,libmemscope-preload.so \
		preload/shim.c preload/preload.c preload/stacktab.c -o $@

# An allocator family's own API (mallocx, tc_malloc, mi_malloc...): a library of its own per
# family, preloaded after libmemscope-preload.so only into a command that loads that allocator;
# it calls into the shim there (DT_NEEDED, found beside it)
$(OUT)/libmemscope-preload-%.so: preload/%.c preload/family.h preload/shim.h \
				 include/memscope_shm.h $(OUT)/libmemscope-preload.so
	$(CC) $(PRELOAD_CFLAGS) -fexceptions -shared $< -L$(OUT) -l:libmemscope-preload.so \
		-Wl,-rpath,'$$ORIGIN' -o $@

$(OUT)/memscope-demo: demo/demo.c
	@mkdir -p $(dir $@)
	$(CC) -O1 -g -Wall -Werror -pthread $< -o $@

# Test workloads: built as a user would build them, frame pointers kept.
# A workload that needs other flags or libraries says so in a `// build: FLAGS` first line.
$(OUT)/workloads/%: tests/e2e/workloads/%.c $(wildcard tests/e2e/workloads/*.h)
	@mkdir -p $(dir $@)
	$(CC) -O1 -g -fno-omit-frame-pointer -pthread -Wall -Werror \
		$< $(shell sed -n '1s|^// build: ||p' $<) -o $@

$(OUT)/workloads/%: tests/e2e/workloads/%.cc $(wildcard tests/e2e/workloads/*.h)
	@mkdir -p $(dir $@)
	$(CXX) -O1 -g -fno-omit-frame-pointer -pthread -Wall -Werror $< -o $@

# Libraries the workloads load with dlopen, built as distributions build theirs
$(OUT)/workloads/lib%.so: tests/e2e/workloads/plugin/%.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -g -fomit-frame-pointer -fPIC -shared -Wall -Werror $< -o $@

# Rust workloads (built when rustc is there; the tests that need them skip otherwise):
# the allocations come from a second crate, since rustc inlines the global allocator's
# entry points into the crate that defines it
$(OUT)/workloads/librust_mix.rlib: tests/e2e/workloads/rust_mix/lib.rs
	@mkdir -p $(dir $@)
	$(RUSTC) -O -g --crate-type=rlib --crate-name rust_mix $< -o $@
$(OUT)/workloads/rust_alloc: tests/e2e/workloads/rust_alloc.rs $(OUT)/workloads/librust_mix.rlib
	$(RUSTC) -O -g --extern rust_mix=$(OUT)/workloads/librust_mix.rlib $< -o $@

# Unit tests: check suites over the pure-C modules, no root
$(OUT)/unit-tests: $(patsubst tests/unit/%.c,$(OUT)/unit/%.o,$(UNIT_SRCS)) $(LIB_OBJS)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) $(shell pkg-config --libs check) -o $@

$(OUT)/unit/%.o: tests/unit/%.c | $(SKELS) $(PROTO_GEN)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Iuser -Itests/unit -c $< -o $@

check: $(OUT)/unit-tests $(OUT)/memscope-bpf $(OUT)/libmemscope-preload.so $(PRELOAD_FAMILY_LIBS) \
       $(WORKLOADS)
	$(OUT)/unit-tests
	tests/golden/check.sh $(OUT)/memscope-bpf

e2e: all
	python3 tests/e2e/run.py --bin $(OUT)/memscope-bpf --workloads $(OUT)/workloads

# Fuzzing: every parser of outside input, FUZZ_SECONDS each (CI: a bounded run)
FUZZ_SECONDS ?= 20
fuzz: all
	bash tests/fuzz/run.sh $(FUZZ_SECONDS)

# Benchmarks, on demand (not in CI): bench/README.md
bench: all
	bash bench/run.sh

# The two-node NUMA VM (Debian's 6.1 kernel under qemu): build it, run its tests
vm: all
	tests/vm/build.sh
vm-test: all
	python3 tests/vm/smoke.py
	python3 tests/vm/numa_test.py

test: check e2e vm-test

demo: $(OUT)/memscope-bpf $(OUT)/libmemscope-preload.so $(PRELOAD_FAMILY_LIBS) $(OUT)/memscope-demo
	$(OUT)/memscope-bpf -i 1 --html $(OUT)/memscope-demo.html -- $(OUT)/memscope-demo
	@echo "the report: $(OUT)/memscope-demo.html (open it in a browser)"

DEB_PKGS := make gcc g++ clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev check pkg-config \
	libcapstone-dev libdw-dev liblzma-dev libiberty-dev libmicrohttpd-dev prometheus bpftrace python3 python3-fusepy util-linux iproute2 elfutils \
	libprotobuf-c-dev protobuf-c-compiler golang-github-google-pprof-dev golang-go \
	libjansson-dev chromium libunwind-dev \
	libc6-dbg libjemalloc2 libjemalloc-dev libgoogle-perftools-dev libmimalloc-dev redis-server redis-tools nodejs qemu-system-x86 busybox-static libclang-rt-14-dev clang-format
deps:
	@missing=$$(for p in $(DEB_PKGS); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	fi

install: $(OUT)/memscope-bpf $(OUT)/libmemscope-preload.so $(PRELOAD_FAMILY_LIBS)
	install -D -m 0755 $(OUT)/memscope-bpf $(DESTDIR)$(PREFIX)/bin/memscope-bpf
	install -D -m 0644 -t $(DESTDIR)$(PREFIX)/lib/memscope-bpf $(OUT)/libmemscope-preload.so \
		$(PRELOAD_FAMILY_LIBS)
	install -D -m 0644 man/memscope-bpf.8 $(DESTDIR)$(PREFIX)/share/man/man8/memscope-bpf.8

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/memscope-bpf $(DESTDIR)$(PREFIX)/share/man/man8/memscope-bpf.8 \
		$(DESTDIR)$(PREFIX)/lib/memscope-bpf/libmemscope-preload.so \
		$(patsubst %,$(DESTDIR)$(PREFIX)/lib/memscope-bpf/libmemscope-preload-%.so,$(PRELOAD_FAMILIES))

FORMAT_SRCS = $(wildcard include/*.h bpf/*.c user/*.c user/*.h tests/unit/*.c tests/unit/*.h \
	tests/e2e/workloads/*.[ch] tests/e2e/workloads/*.cc tests/e2e/workloads/plugin/*.c demo/*.c \
	preload/*.[ch])
format:
	clang-format -i $(FORMAT_SRCS)
format-check:
	clang-format --dry-run -Werror $(FORMAT_SRCS)

clean:
	rm -rf $(OUT)

-include $(wildcard $(OUT)/user/*.d $(OUT)/unit/*.d)
