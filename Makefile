# eef — build, test, demo and benchmarks.  See README.md.
#
#   make            build ./eef and build/libeef.a
#   make test       run the test suite (what CI runs)
#   make demo       expert -> SFT -> RFT -> EEF on the built-in shop
#   make bench      benchmarks, printed as `name: value` lines
#   make sanitize   the test suite under ASan + UBSan
#   make test-mpi   distributed runs on Open MPI against one process (docs/scaling.md)
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
PKGS    := libcjson libcurl libmicrohttpd
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

.PHONY: all test test-mpi mpi-eef demo bench sanitize clean deps check-mem fuzz
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

bench: $(BENCH_BIN) $(EEF_BIN)
	@scripts/run-bench $(BUILD)

check-mem: $(EEF_BIN)
	@scripts/check-mem

clean:
	rm -rf build eef

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
