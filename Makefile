# One Makefile for the whole project.
#   make            build every program into bin/
#   make test       run the whole test suite (tests/run)
#   make asan       the same suite with ASan+UBSan builds (into build-asan/)
#   make bench      benchmarks, each as a ratio to its peer measured in the same run
#   make parity-all every listed ResNet at full size against PyTorch (tests/parity-all.sh; minutes)
#   make deps       install the Debian packages of .ci/packages.txt (./install-deps)
#   make install    programs, data files, man pages and bash completion under PREFIX
#                   (default /usr/local; DESTDIR too); make uninstall removes them
#   make man        the man pages, from each program's --help (doc/help2man.sh)
#   make weights    fetch the published checkpoints (sha256-checked)
#   make classes    zscore's default class table: CLIP's zero-shot classifier from txtencode
#   make fuzz       build the libFuzzer targets (clang)
#   make study      the whole study, cached stage by stage, into report/ (pipelines/study.mk)
#   make study-slurm  the same as Slurm jobs (pipelines/README.md, "On a Slurm cluster")
#
# Layout (doc/architecture.md): common/*/ is built into libcommon.a; cmd/X.c is
# the program X, linked against it; model/ and gpu/ are the encoders' backends.
# Every object depends on the headers it includes, as the compiler lists them
# (-MMD -MP: BUILD/.../X.d beside X.o).

# No built-in rules: make would try to remake each included .d file with them
# (`%: %.o` reaches build-fuzz's fuzz_ckpt_%.o rule, whose source always
# exists, so a `make study` after `make fuzz` compiled fuzz objects).
MAKEFLAGS += --no-builtin-rules
.SUFFIXES:

BUILD   ?= build
BIN     ?= bin
CC      ?= cc
OPT     ?= -O2
CFLAGS  ?= $(OPT) -g
WARN     = -std=c11 -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wstrict-prototypes \
           -Wmissing-prototypes -Wformat=2 -Wundef -Wno-unused-parameter
CPPFLAGS += -Icommon -I. -D_FILE_OFFSET_BITS=64
DEPFLAGS = -MMD -MP
# static: the GPU machine has no msgpack-c
LDLIBS_COMMON = -l:libmsgpackc.a -lm -lpthread
# where make install puts things; an installed program finds data/ at
# BINDIR/../share/rnencode (common/util/path.c), whatever PREFIX, then at DATADIR
PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
DATADIR ?= $(PREFIX)/share/rnencode
MANDIR  ?= $(PREFIX)/share/man
COMPLETIONDIR ?= $(PREFIX)/share/bash-completion/completions

COMMON_SRC := $(wildcard common/*/*.c)
COMMON_OBJ := $(COMMON_SRC:%.c=$(BUILD)/%.o)
COMMON_LIB := $(BUILD)/libcommon.a

PROGS := $(patsubst cmd/%.c,%,$(wildcard cmd/*.c))
BINS  := $(PROGS:%=$(BIN)/%)
UNIT_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_*.c))

# Per-program libraries and extra objects.
LIBS_imgdecode  = -ljpeg -lpng -lz
LIBS_errstats   = -ljpeg
LIBS_test_grid  = -ljpeg
LIBS_rnencode   = -ldnnl
# static: one library less to carry to the GPU machine
LIBS_txtencode  = -ldnnl -l:libz.a
MODEL_SRC := $(wildcard model/*.c)
MODEL_OBJ := $(MODEL_SRC:%.c=$(BUILD)/%.o)
OBJS_rnencode  = $(MODEL_OBJ)
# ckptinfo names the model a file holds (net_probe)
OBJS_ckptinfo  = $(BUILD)/model/net.o $(BUILD)/model/models.o
OBJS_txtencode = $(MODEL_OBJ)

# ---- CUDA (gpu/): only where nvcc is -------------------------------------
# rnencode links the image backend (cuDNN + cuBLAS) when cudnn.h is found
# too (CUDNN_H= builds without it); txtencode links the text backend
# (gpu_text*, gpu_check: cuBLAS only). Either is then compiled with
# -DHAVE_CUDA=1. Every other program builds and tests without nvcc.
# Machine code for Ampere (sm_80) and Hopper (sm_90), PTX for later GPUs;
# warnings are errors. The CUDA runtime is linked statically, cuDNN and
# cuBLAS by soname (the GPU machine has them as pip packages: put their lib/
# folders on LD_LIBRARY_PATH, see tests/gpu/README.md).
NVCC      ?= $(shell command -v nvcc 2>/dev/null)
CUDA_HOME ?= $(patsubst %/bin/nvcc,%,$(NVCC))
CUDNN_H   ?= $(firstword $(wildcard $(CUDA_HOME)/include/cudnn.h /usr/include/cudnn.h /usr/include/*/cudnn.h))
GPU_ARCH  ?= -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 \
             -gencode arch=compute_90,code=compute_90
NVCCFLAGS ?= -O3 -std=c++17 $(GPU_ARCH) -Xcompiler -Wall,-Wextra,-Wshadow,-Werror -Werror all-warnings \
             -I. -Icommon -Igpu
GPU_SRC       := $(wildcard gpu/*.cu gpu/*.cc)
GPU_OBJ       := $(addprefix $(BUILD)/,$(addsuffix .o,$(basename $(GPU_SRC))))
GPU_TEXT_OBJ  := $(BUILD)/gpu/gpu_text.o $(BUILD)/gpu/gpu_text_kernels.o $(BUILD)/gpu/gpu_check.o
GPU_IMAGE_OBJ := $(filter-out $(BUILD)/gpu/gpu_text%.o,$(GPU_OBJ))
CUDA_LIBS     := -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcublas -lcudart_static -ldl -lrt -lstdc++
# CUDNN_H given: a cuDNN outside the default places (a tarball's or pip's
# include/ next to lib/). The places searched above are the compilers' own:
# naming them again (-I/usr/include) would break the C++ headers' include_next.
ifneq ($(CUDNN_H),)
ifneq ($(filter command line environment,$(origin CUDNN_H)),)
CUDNN_INC    := $(patsubst %/,%,$(dir $(CUDNN_H)))
NVCCFLAGS    += -I$(CUDNN_INC)
CUDNN_LIBDIR := $(foreach d,$(wildcard $(CUDNN_INC)/../lib),-L$(d) -Wl,-rpath,$(d))
endif
endif
CUDA_TEXT  := $(if $(NVCC),$(GPU_SRC))
CUDA_IMAGE := $(if $(CUDA_TEXT),$(CUDNN_H))
ifneq ($(CUDA_TEXT),)
OBJS_txtencode += $(GPU_TEXT_OBJ)
LIBS_txtencode += $(CUDA_LIBS)
$(BUILD)/cmd/txtencode.o: CPPFLAGS += -DHAVE_CUDA=1
endif
ifneq ($(CUDA_IMAGE),)
OBJS_rnencode += $(GPU_IMAGE_OBJ)
LIBS_rnencode += $(CUDNN_LIBDIR) -lcudnn $(CUDA_LIBS)
$(BUILD)/cmd/rnencode.o: CPPFLAGS += -DHAVE_CUDA=1
endif

$(BUILD)/gpu/%.o: gpu/%.cu
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) $(DEPFLAGS) -MF $(@:.o=.d) -c -o $@ $<

$(BUILD)/gpu/%.o: gpu/%.cc
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) $(DEPFLAGS) -MF $(@:.o=.d) -c -o $@ $<

# ---- programs, libcommon.a, unit tests ------------------------------------
.PHONY: all test asan bench weights classes fuzz clean gpu-note parity-all
all: gpu-note $(BINS) $(UNIT_TESTS) $(BUILD)/bench/recio $(BUILD)/tests/netref

gpu-note:
	@$(if $(NVCC),,echo "make: nvcc not found: building rnencode and txtencode without the CUDA backends")
	@$(if $(NVCC),$(if $(CUDNN_H),,echo "make: cudnn.h not found (CUDNN_H=PATH names it): building rnencode without its CUDA backend"))

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CPPFLAGS) $(DEPFLAGS) $(CFLAGS) -c -o $@ $<

# an installed program's data/ (a checkout's bin/../data comes first)
$(BUILD)/common/util/path.o: CPPFLAGS += -DRNENC_DATADIR='"$(DATADIR)"'

$(COMMON_LIB): $(COMMON_OBJ)
	rm -f $@ && ar rcs $@ $^

.SECONDEXPANSION:
$(BIN)/%: $(BUILD)/cmd/%.o $$(OBJS_$$*) $(COMMON_LIB)
	@mkdir -p $(BIN)
	$(CC) $(CFLAGS) -o $@ $< $(OBJS_$*) $(COMMON_LIB) $(LIBS_$*) $(LDLIBS_COMMON) $(LDFLAGS)

# a unit test of model/ links the objects it tests (OBJS_test_X, LIBS_test_X)
OBJS_test_clip_keys = $(BUILD)/model/clip_keys.o $(BUILD)/model/text_encoder.o $(BUILD)/model/onednn.o $(BUILD)/model/net.o \
                      $(BUILD)/model/models.o
LIBS_test_clip_keys = -ldnnl
$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $$(OBJS_$$*) $(COMMON_LIB)
	$(CC) $(CFLAGS) -o $@ $< $(OBJS_$*) $(COMMON_LIB) $(LIBS_$*) $(LDLIBS_COMMON) $(LDFLAGS)

# the reference forward (model/ref.c) as the parity tests' second oracle
NETREF_OBJ := $(BUILD)/model/net.o $(BUILD)/model/models.o $(BUILD)/model/ref.o
$(BUILD)/tests/netref: $(BUILD)/tests/unit/netref.o $(NETREF_OBJ) $(COMMON_LIB)
	$(CC) $(CFLAGS) -o $@ $< $(NETREF_OBJ) $(COMMON_LIB) $(LDLIBS_COMMON) $(LDFLAGS)

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(COMMON_LIB)
	$(CC) $(CFLAGS) -o $@ $< $(COMMON_LIB) $(LDLIBS_COMMON) $(LDFLAGS)

# objects reached only through a pattern: kept between builds
.SECONDARY: $(GPU_OBJ) $(MODEL_OBJ) $(PROGS:%=$(BUILD)/cmd/%.o) $(UNIT_TESTS:$(BUILD)/tests/%=$(BUILD)/tests/unit/%.o) \
            $(BUILD)/tests/unit/netref.o \
            $(BUILD)/bench/recio.o

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

test: all
	tests/run

# all first: the GPU simulators and recio of some tests are built from build/
asan: all
	$(MAKE) BUILD=build-asan BIN=build-asan/bin OPT=-O1 \
	  CFLAGS="-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer" \
	  LDFLAGS="-fsanitize=address,undefined" NVCC= all
	BIN=build-asan/bin UNITDIR=build-asan/tests ASAN=1 tests/run

bench: all $(BUILD)/bench/recio
	bench/run

parity-all: all
	tests/parity-all.sh

weights:
	pipelines/fetch-weights

# zscore's default table, WEIGHTS/classes-clip-rn50.mp: NAMES x TEMPLATES (CLIP's 1000 x 80:
# 30 minutes on 2 shared cores, README's Quick start) through txtencode; written under a temporary name, then renamed
classes: $(BIN)/txtencode
	@[ -e $(WEIGHTS)/RN50.pt ] || pipelines/fetch-weights --dir $(WEIGHTS) clip-rn50
	@echo "classes: $(NAMES) x $(TEMPLATES) -> $(WEIGHTS)/classes-clip-rn50.mp" >&2
	@$(BIN)/txtencode --weights $(WEIGHTS)/RN50.pt --names $(NAMES) --templates $(TEMPLATES) \
	  >$(WEIGHTS)/classes-clip-rn50.mp.tmp.$$$$ && mv -f $(WEIGHTS)/classes-clip-rn50.mp.tmp.$$$$ \
	  $(WEIGHTS)/classes-clip-rn50.mp || { rm -f $(WEIGHTS)/classes-clip-rn50.mp.tmp.$$$$; exit 2; }

# ---- libFuzzer targets (fuzz/fuzz_X.c -> build-fuzz/fuzz_X; see each file's header) ----
# Each links a fuzz-instrumented build of the whole common library, so a new
# dependency of a parser needs no change here. fuzz_ckpt.c is three targets,
# one per checkpoint format (-DFUZZ_CKPT_ZIP, _PICKLE, _SAFETENSORS).
FUZZ_CC     ?= clang-14
FUZZ_FLAGS   = $(WARN) $(CPPFLAGS) $(DEPFLAGS) -g -O1 -fno-sanitize-recover=undefined
FUZZ_LIB    := build-fuzz/libcommon.a
FUZZ_LIBS    = -ljpeg -lpng -lz -l:libmsgpackc.a -lm -lpthread
FUZZ_CKPT   := zip pickle safetensors
FUZZ_TARGETS := $(patsubst fuzz/%.c,build-fuzz/%,$(filter-out fuzz/fuzz_ckpt.c,$(wildcard fuzz/fuzz_*.c))) \
                $(FUZZ_CKPT:%=build-fuzz/fuzz_ckpt_%)
fuzz: $(FUZZ_TARGETS)

build-fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link,address,undefined -c -o $@ $<

build-fuzz/obj/fuzz/fuzz_ckpt_%.o: fuzz/fuzz_ckpt.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link,address,undefined -DFUZZ_CKPT_$(shell echo $* | tr a-z A-Z) \
	  -c -o $@ $<

# model/net.c too: the checkpoint targets also read the architecture and bind
# the tensors (net_probe, net_load) of every file the readers accept; and
# model/calib.c, INT8's calibration files (fuzz_calib)
$(FUZZ_LIB): $(COMMON_SRC:%.c=build-fuzz/obj/%.o) build-fuzz/obj/model/net.o build-fuzz/obj/model/models.o \
             build-fuzz/obj/model/calib.o
	rm -f $@ && ar rcs $@ $^

build-fuzz/fuzz_%: build-fuzz/obj/fuzz/fuzz_%.o $(FUZZ_LIB)
	$(FUZZ_CC) -g -fsanitize=fuzzer,address,undefined -o $@ $< $(FUZZ_LIB) $(FUZZ_LIBS)

.SECONDARY: $(FUZZ_TARGETS:build-fuzz/%=build-fuzz/obj/fuzz/%.o)
-include $(shell find build-fuzz/obj -name '*.d' 2>/dev/null)

# make hostile: tests/hostile/ (mutated streams, checkpoints, images and shards
# through the programs, the rules of the README's "What hostile input cannot
# do" checked) for HOSTILE_SECONDS from HOSTILE_SEED (default: the time);
# HOSTILE_BIN=build-asan/bin runs make asan's build instead of BIN's.
HOSTILE_SECONDS ?= 600
HOSTILE_SEED ?= $(shell date +%s)
HOSTILE_BIN ?= $(BIN)
.PHONY: hostile
hostile: $(if $(filter $(BIN),$(HOSTILE_BIN)),$(BINS))
	/usr/bin/python3 tests/hostile/hostile.py --seconds $(HOSTILE_SECONDS) --seed $(HOSTILE_SEED) --bin $(HOSTILE_BIN)

clean:
	rm -rf $(BUILD) build-asan $(BIN) build-fuzz

# ---- set-up, install ----
.PHONY: deps man install uninstall
deps:
	./install-deps

# one page per program, and one completion file per program (bash-completion
# loads completions/NAME when NAME is first completed), from PROG --help
MANPAGES := $(PROGS:%=$(BUILD)/man/%.1)
COMPLETIONS := $(PROGS:%=$(BUILD)/completion/%)
man: $(MANPAGES)
$(BUILD)/man/%.1: $(BIN)/% doc/help2man.sh
	@mkdir -p $(dir $@)
	doc/help2man.sh man $< >$@.tmp && mv -f $@.tmp $@
$(BUILD)/completion/%: $(BIN)/% doc/help2man.sh
	@mkdir -p $(dir $@)
	doc/help2man.sh completion $< >$@.tmp && mv -f $@.tmp $@

DATA_FILES := $(shell find data -type f | sort)
install: $(BINS) $(MANPAGES) $(COMPLETIONS)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(COMPLETIONDIR)
	install -m 755 $(BINS) $(DESTDIR)$(BINDIR)
	for f in $(DATA_FILES:data/%=%); do install -D -m 644 data/$$f $(DESTDIR)$(DATADIR)/$$f || exit 2; done
	install -m 644 $(MANPAGES) $(DESTDIR)$(MANDIR)/man1
	install -m 644 $(COMPLETIONS) $(DESTDIR)$(COMPLETIONDIR)

# only what install wrote: its folders go when they are left empty (rmdir),
# deepest first, and no other (DATADIR may be a folder other packages share)
DATA_DIRS := $(patsubst data/%/,%,$(filter-out data/,$(sort $(dir $(DATA_FILES)))))
uninstall:
	rm -f $(PROGS:%=$(DESTDIR)$(BINDIR)/%) $(PROGS:%=$(DESTDIR)$(MANDIR)/man1/%.1) \
	  $(PROGS:%=$(DESTDIR)$(COMPLETIONDIR)/%) $(DATA_FILES:data/%=$(DESTDIR)$(DATADIR)/%)
	for d in $$(printf '%s\n' $(DATA_DIRS) | sort -r); do rmdir "$(DESTDIR)$(DATADIR)/$$d" 2>/dev/null || true; done
	rmdir $(DESTDIR)$(DATADIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(COMPLETIONDIR) 2>/dev/null || true

# make study, make study-shards, make study-slurm: the whole study as cached stages (variables and stages there)
include pipelines/study.mk
