# One Makefile for the whole project.
#   make            build every program into bin/
#   make test       run the whole test suite (tests/run)
#   make asan       the same suite with ASan+UBSan builds (into build-asan/)
#   make bench      benchmarks, each as a ratio to its peer measured in the same run
#   make weights    fetch the published checkpoints (sha256-checked)
#   make fuzz       build the libFuzzer targets (clang)

BUILD   ?= build
BIN     ?= bin
CC      ?= cc
OPT     ?= -O2
CFLAGS  ?= $(OPT) -g
WARN     = -std=c11 -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wstrict-prototypes \
           -Wmissing-prototypes -Wformat=2 -Wundef -Wno-unused-parameter
CPPFLAGS += -Icommon -I. -D_FILE_OFFSET_BITS=64
LDLIBS_COMMON = -l:libmsgpackc.a -lm -lpthread  # static: the GPU machine has no msgpack-c

NVCC    ?= $(shell command -v nvcc 2>/dev/null)
HAVE_NVCC := $(if $(NVCC),1,)

COMMON_SRC := $(wildcard common/*.c)
COMMON_OBJ := $(COMMON_SRC:%.c=$(BUILD)/%.o)
COMMON_LIB := $(BUILD)/libcommon.a

PROGS := $(patsubst cmd/%.c,%,$(wildcard cmd/*.c))
BINS  := $(PROGS:%=$(BIN)/%)
UNIT_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_*.c))

# Per-program libraries and extra objects.
LIBS_imgdecode  = -ljpeg -lpng -larchive
LIBS_errstats   = -ljpeg
LIBS_rnencode   = -ldnnl
LIBS_txtencode  = -ldnnl -lz
MODEL_SRC := $(wildcard model/*.c)
MODEL_OBJ := $(MODEL_SRC:%.c=$(BUILD)/%.o)
OBJS_rnencode  = $(MODEL_OBJ)
OBJS_txtencode = $(MODEL_OBJ)

# GPU backend: only rnencode links it, and only when nvcc is there.
GPU_CU  := $(wildcard gpu/*.cu)
GPU_OBJ := $(GPU_CU:%.cu=$(BUILD)/%.o)
CUDA_HOME ?= $(patsubst %/bin/nvcc,%,$(NVCC))
NVCCFLAGS ?= -O3 -std=c++17 -arch=sm_90 -Xcompiler -Wall,-Wextra,-Werror -Werror all-warnings -Icommon -Igpu
ifeq ($(HAVE_NVCC),1)
ifneq ($(GPU_CU),)
OBJS_rnencode += $(GPU_OBJ)
LIBS_rnencode += -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcudnn -lcublas -lcudart -lstdc++
CPPFLAGS_rnencode = -DHAVE_CUDA=1
endif
endif

.PHONY: all test asan bench weights fuzz clean gpu-note
all: gpu-note $(BINS) $(UNIT_TESTS) $(BUILD)/bench/recio

gpu-note:
	@$(if $(HAVE_NVCC),,echo "make: nvcc not found: building rnencode without the CUDA backend")

$(BUILD)/%.o: %.c $(wildcard common/*.h model/*.h gpu/*.h) Makefile
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/gpu/%.o: gpu/%.cu $(wildcard gpu/*.h common/*.h) Makefile
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -c -o $@ $<

$(COMMON_LIB): $(COMMON_OBJ)
	rm -f $@ && ar rcs $@ $^

.SECONDEXPANSION:
$(BIN)/%: cmd/%.c $(COMMON_LIB) $$(OBJS_$$*) $(wildcard common/*.h model/*.h gpu/*.h) Makefile
	@mkdir -p $(BIN)
	$(CC) $(WARN) $(CPPFLAGS) $(CPPFLAGS_$*) $(CFLAGS) -o $@ $< $(OBJS_$*) $(COMMON_LIB) $(LIBS_$*) $(LDLIBS_COMMON) $(LDFLAGS)

$(BUILD)/tests/%: tests/unit/%.c $(COMMON_LIB) $(wildcard common/*.h) Makefile
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(COMMON_LIB) $(LDLIBS_COMMON) $(LDFLAGS)

$(BUILD)/bench/%: bench/%.c $(COMMON_LIB) $(wildcard common/*.h) Makefile
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(COMMON_LIB) $(LDLIBS_COMMON) $(LDFLAGS)

test: all
	tests/run

asan:
	$(MAKE) BUILD=build-asan BIN=build-asan/bin OPT=-O1 \
	  CFLAGS="-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer" \
	  LDFLAGS="-fsanitize=address,undefined" NVCC= all
	BIN=build-asan/bin UNITDIR=build-asan/tests ASAN=1 tests/run

bench: all $(BUILD)/bench/recio
	bench/run

weights:
	pipelines/fetch-weights

clean:
	rm -rf $(BUILD) build-asan $(BIN) build-fuzz
