# eef — build, test, demo and benchmarks.  See README.md.
#
#   make            build ./eef and build/libeef.a
#   make test       run the test suite (what CI runs)
#   make demo       expert -> SFT -> RFT -> EEF on the built-in shop
#   make paper      every row of the paper's table, both worlds, SEEDS=3 seeds
#   make bench      benchmarks, printed as `name: value` lines
#   make sanitize   the test suite under ASan + UBSan
#   make check-mem  valgrind over a short run and a few commands
#   make fuzz       libFuzzer harnesses, FUZZ_SECONDS each (clang)
#   make test-mpi   distributed runs on Open MPI against one process (docs/scaling.md)
#   make interop    real consumers against eef (the openai npm client; skipped without node)
#   make mutate     mutation testing: tests/mutants/*.txt, one at a time (docs/testing.md);
#                   MUTANTS='pattern ...' runs a subset
#
# Options: NATIVE=1 (-march=native), BLAS=0 (plain-C matmul instead of
# OpenBLAS), MPI=1 (distributed build with Open MPI), V=1 (show commands).

CC      ?= gcc
ifeq ($(CC),cc)
CC      := gcc
endif
# MPI=1 builds elsewhere (build/mpi/eef): the objects differ
BUILD   ?= $(if $(filter 1,$(MPI)),build/mpi,build)
ARCH    := $(if $(NATIVE),-march=native,-march=x86-64-v2)
OPT     ?= -O2
BLAS    ?= 1
PKGS    := libcjson libcurl libmicrohttpd libpcre2-8 libutf8proc
ifeq ($(BLAS),1)
PKGS    += openblas
BLASDEF := -DEEF_HAVE_BLAS
endif
# Recursively expanded: pkg-config runs after install-deps has installed MPI.
ifeq ($(MPI),1)
MPIDEF   = -DEEF_HAVE_MPI $(shell pkg-config --cflags mpi 2>/dev/null)
MPILIB   = $(shell pkg-config --libs mpi 2>/dev/null)
endif
SANITIZE := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
SANFLAGS := $(if $(SAN),$(SANITIZE))

# Recursively expanded (=) so pkg-config runs after install-deps on a fresh machine.
CFLAGS   = -std=c11 -D_GNU_SOURCE $(OPT) $(ARCH) -g -fopenmp -Wall -Wextra -Werror \
           -Isrc $(BLASDEF) $(MPIDEF) $(SANFLAGS) \
           -DEEF_BUILD_FLAGS='"$(OPT) $(ARCH) $(if $(SAN),sanitize) blas=$(BLAS)$(if $(filter 1,$(MPI)), mpi)"' \
           $(shell pkg-config --cflags $(PKGS) 2>/dev/null) $(EXTRA_CFLAGS)
LDLIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null) $(MPILIB) -lm -lpthread
LDFLAGS := -fopenmp $(SANFLAGS)

LIB_SRC  := $(sort $(shell find src -name '*.c' ! -path 'src/cli/*' $(if $(filter 1,$(MPI)),,! -path 'src/dist/mpi*')))
CLI_SRC  := $(sort $(wildcard src/cli/*.c))
TEST_SRC := $(sort $(wildcard tests/test_*.c))
BENCH_SRC := $(sort $(wildcard bench/*.c))

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
DEPS_STAMP := build/.deps-stamp $(if $(filter 1,$(MPI)),build/.deps-mpi-stamp)
EEF_BIN  := $(if $(filter build,$(BUILD)),eef,$(BUILD)/eef)

Q := $(if $(V),,@)

.PHONY: all test test-mpi mpi-eef demo paper bench sanitize clean deps check-mem fuzz fuzz-build mutate \
        interop
all: $(EEF_BIN)

# Missing Debian packages are installed once (scripts/install-deps says what
# it does); the stamp is refreshed when the script changes.
build/.deps-stamp: scripts/install-deps
	@mkdir -p $(dir $@)
	@scripts/install-deps
	@touch $@
build/.deps-mpi-stamp: scripts/install-deps
	@mkdir -p $(dir $@)
	@scripts/install-deps mpi
	@touch $@
deps: $(DEPS_STAMP)

$(BUILD)/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC  $<")
	$(Q)$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

# The numeric kernels are built at -O3: GCC's -O2 cost model leaves their
# loops scalar.  (Sanitizer builds keep their own level.)
NN_OPT ?= -O3
$(BUILD)/src/nn/%.o: CFLAGS += $(NN_OPT)

# The environment registry (src/env/env.c): every folder of src/env/ is an
# environment defining eef_env_kind_<folder>.  env.o is rebuilt when an
# environment's sources change, so a new folder is registered.
ENV_KINDS := $(sort $(notdir $(patsubst %/,%,$(wildcard src/env/*/))))
ENV_KINDS_DEF := -DEEF_ENV_KINDS='$(foreach k,$(ENV_KINDS),X($(k)))'
$(BUILD)/src/env/env.o: CFLAGS += $(ENV_KINDS_DEF)
$(BUILD)/src/env/env.o: $(wildcard src/env/*/*.c)

$(BUILD)/libeef.a: $(LIB_OBJ)
	@$(if $(Q),echo "  AR  $@")
	$(Q)ar rcs $@ $^

$(EEF_BIN): $(CLI_OBJ) $(BUILD)/libeef.a
	@$(if $(Q),echo "  LD  $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/libeef.a $(LDLIBS)

$(BUILD)/tests/%: tests/%.c $(BUILD)/libeef.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC  $<")
	$(Q)$(CC) $(CFLAGS) -Itests -MMD -MP $< -o $@ $(LDFLAGS) $(BUILD)/libeef.a $(LDLIBS) \
	    $(shell pkg-config --libs cmocka)

$(BUILD)/bench/%: bench/%.c $(BUILD)/libeef.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC  $<")
	$(Q)$(CC) $(CFLAGS) -MMD -MP $< -o $@ $(LDFLAGS) $(BUILD)/libeef.a $(LDLIBS)

# The MPI build of the same tree, for the tests that run mpirun: made by
# `make test` only where Open MPI is installed (tests/test_dist.c skips
# them otherwise), and by `make test-mpi`, which installs it if need be.
MPI_BUILD := $(if $(filter 1,$(MPI)),$(BUILD),$(BUILD)/mpi)
HAVE_MPI  := $(shell pkg-config --exists mpi 2>/dev/null && command -v mpirun >/dev/null && echo 1)
MPI_EEF   := $(MPI_BUILD)/eef

test: $(TEST_BIN) $(EEF_BIN) $(if $(HAVE_MPI),mpi-eef)
	@EEF=$(abspath $(EEF_BIN)) $(if $(HAVE_MPI),EEF_MPI=$(abspath $(MPI_EEF))) \
	    scripts/run-tests $(TEST_BIN)

mpi-eef:
	$(Q)$(MAKE) --no-print-directory MPI=1 BUILD=$(MPI_BUILD) $(MPI_EEF)

test-mpi: $(EEF_BIN)
	$(Q)$(MAKE) --no-print-directory MPI=1 BUILD=$(MPI_BUILD) $(MPI_EEF)
	@scripts/test-mpi $(abspath $(EEF_BIN)) $(abspath $(MPI_EEF))

sanitize:
	$(MAKE) BUILD=build/san SAN=1 OPT=-O1 NN_OPT=-O1 test

demo: $(EEF_BIN)
	./$(EEF_BIN) demo --out runs/demo

# every row of the paper's table, shop and house, SEEDS seeds (docs/paper.md);
# resumable: run it again after a kill
SEEDS ?= 3
paper: $(EEF_BIN)
	./$(EEF_BIN) paper --seeds $(SEEDS) --iters 3 --out runs/paper

bench: $(BENCH_BIN) $(EEF_BIN)
	@scripts/run-bench $(BUILD)

# Real consumers of what eef serves and writes: the official openai npm
# client against `eef serve` on an imported model (scripts/interop-openai;
# says "skipped" where node or the package is missing).
interop: $(EEF_BIN)
	@scripts/interop-openai ./$(EEF_BIN)

# Mutation testing (docs/testing.md): each mutant of tests/mutants/*.txt
# applied alone to a scratch copy (build/mutate/tree), its killers run, then
# the rest of the suite if they missed it.  Not part of `make test` (slow).
mutate:
	@scripts/mutate $(MUTANTS)

# valgrind (memcheck) over a short tiny run and a few commands: zero leaks
# and zero errors (scripts/check-mem).
check-mem: $(EEF_BIN)
	@scripts/install-deps --check-mem
	@scripts/check-mem ./$(EEF_BIN)

# ---------------------------------------------------------------- fuzzing
# libFuzzer harnesses tests/fuzz/fuzz_*.c against a clang build of the
# library with ASan + UBSan (build/fuzz; the SIMD kernels in src/nn/vec.c
# use GCC's target pragmas and are compiled by gcc, uninstrumented).
# `make fuzz` runs each harness FUZZ_SECONDS (default 60) on its corpus
# tests/fuzz/<name>/; FUZZ=name runs one.
FUZZ_DIR     := build/fuzz
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS   = -std=c11 -D_GNU_SOURCE -O1 -g -fopenmp -Wall -Wextra -Isrc -Itests/fuzz \
                $(BLASDEF) $(FUZZ_SANFLAGS) -DEEF_BUILD_FLAGS='"fuzz"' \
                $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
FUZZ_SRC     := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BIN     := $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_DIR)/%)
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(FUZZ_DIR)/%.o)
FUZZ_STAMP   := $(FUZZ_DIR)/.deps-stamp

# clang is needed only here: installed on first use (scripts/install-deps --fuzz)
$(FUZZ_STAMP): scripts/install-deps | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	@scripts/install-deps --fuzz
	@touch $@

$(FUZZ_DIR)/src/env/env.o: FUZZ_CFLAGS += $(ENV_KINDS_DEF)
$(FUZZ_DIR)/src/env/env.o: $(wildcard src/env/*/*.c)
$(FUZZ_DIR)/src/%.o: src/%.c | $(FUZZ_STAMP)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC  $< (fuzz)")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

$(FUZZ_DIR)/src/nn/vec.o: src/nn/vec.c | $(FUZZ_STAMP)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC  $< (fuzz, gcc)")
	$(Q)gcc -std=c11 -D_GNU_SOURCE -O2 $(ARCH) -fopenmp -Isrc -MMD -MP -c $< -o $@

$(FUZZ_DIR)/libeef.a: $(FUZZ_LIB_OBJ)
	$(Q)ar rcs $@ $^

$(FUZZ_DIR)/fuzz_cli_args: EXTRA_FUZZ_SRC := src/cli/args.c
$(FUZZ_DIR)/%: tests/fuzz/%.c tests/fuzz/*.h $(FUZZ_DIR)/libeef.a
	@$(if $(Q),echo "  LD  $@")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $< $(EXTRA_FUZZ_SRC) -o $@ \
	    $(FUZZ_DIR)/libeef.a $(LDLIBS)

fuzz-build: $(FUZZ_BIN)

fuzz: $(FUZZ_BIN)
	@FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz $(FUZZ_DIR) $(FUZZ)

clean:
	rm -rf build eef

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
