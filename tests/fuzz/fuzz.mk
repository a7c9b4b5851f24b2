# fuzz.mk: builds the libFuzzer harnesses (tests/fuzz/fuzz_*.c) against the project's
# user/*.c, everything with clang -fsanitize=fuzzer,address,undefined. Run from the
# repository root; tests/fuzz/run.sh calls it (make -f tests/fuzz/fuzz.mk).

FUZZ_OUT ?= build/fuzz
FUZZ_CC ?= clang

FUZZ_CFLAGS := -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
	-fno-sanitize-recover=all -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter \
	-MMD -MP -Iinclude -Ibuild -Iuser -Ipreload -Itests/fuzz
FUZZ_LDLIBS := -lbpf -lelf -lz -llzma -lcapstone -lmicrohttpd -lprotobuf-c -ljansson -lstdc++ -lpthread -lm

# The symbolizer (libdwfl, libiberty) is linked into every harness once user/symbolizer.c
# exists (probes.c, which findings.c reaches, demangles through it), and the ELF and
# demangling harnesses call it; the other sources form one archive, so each harness links
# only the objects it uses
SYM_SRC := $(wildcard user/symbolizer.c)
LIB_SRCS := $(filter-out user/main.c $(SYM_SRC),$(wildcard user/*.c))
# pprof's profile.proto compiled by protoc-c: the main build's (make's build/proto)
PROTO_C := build/proto/profile.pb-c.c
# the in-process stack table, which the daemon reads too (stackmap.c)
LIB_OBJS := $(patsubst user/%.c,$(FUZZ_OUT)/obj/%.o,$(LIB_SRCS)) $(FUZZ_OUT)/obj/profile.pb-c.o \
	    $(FUZZ_OUT)/obj/stacktab.o
HARNESSES := $(patsubst tests/fuzz/fuzz_%.c,$(FUZZ_OUT)/fuzz_%,$(wildcard tests/fuzz/fuzz_*.c))

.PHONY: all
all: $(HARNESSES)

ifneq ($(SYM_SRC),)
SYM_OBJ := $(FUZZ_OUT)/obj/symbolizer.o
SYM_LIBS := -ldw -liberty
$(FUZZ_OUT)/fuzz_elf $(FUZZ_OUT)/fuzz_demangle: EXTRA := -DMS_FUZZ_SYMBOLIZER
$(HARNESSES): $(SYM_OBJ)
endif

$(PROTO_C):
	$(MAKE) $@

$(FUZZ_OUT)/obj/profile.pb-c.o: $(PROTO_C)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

# the --html page's style and script as C strings: the main build's (make's build/html)
HTML_GEN := build/html/page.css.h build/html/page.js.h
$(HTML_GEN):
	$(MAKE) $@
$(FUZZ_OUT)/obj/html.o: $(HTML_GEN)

$(FUZZ_OUT)/obj/%.o: user/%.c | $(PROTO_C)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_OUT)/obj/stacktab.o: preload/stacktab.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_OUT)/libmemscope-fuzz.a: $(LIB_OBJS)
	rm -f $@
	ar rcs $@ $^

$(FUZZ_OUT)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_OUT)/libmemscope-fuzz.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $< $(EXTRA) $(SYM_OBJ) \
		$(FUZZ_OUT)/libmemscope-fuzz.a $(SYM_LIBS) $(FUZZ_LDLIBS) -o $@

-include $(wildcard $(FUZZ_OUT)/obj/*.d $(FUZZ_OUT)/*.d)
