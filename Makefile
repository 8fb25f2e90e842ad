# One Makefile for the whole project.
#   make            build every program into bin/
#   make test       run the whole test suite (tests/run)
#   make asan       the same suite with ASan+UBSan builds (into build-asan/)
#   make bench      benchmarks, each as a ratio to its peer measured in the same run
#   make weights    fetch the published checkpoints (sha256-checked)
#   make classes    zscore's default class table: CLIP's zero-shot classifier from txtencode
#   make fuzz       build the libFuzzer targets (clang)
#   make study      the whole study, cached stage by stage, into report/ (pipelines/study.mk)
#   make study-slurm  the same as Slurm jobs (pipelines/README.md, "On a Slurm cluster")

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
LIBS_imgdecode  = -ljpeg -lpng -lz
LIBS_errstats   = -ljpeg
LIBS_rnencode   = -ldnnl
LIBS_txtencode  = -ldnnl -l:libz.a # static: one library less to carry to the GPU machine
MODEL_SRC := $(wildcard model/*.c)
MODEL_OBJ := $(MODEL_SRC:%.c=$(BUILD)/%.o)
OBJS_rnencode  = $(MODEL_OBJ)
OBJS_txtencode = $(MODEL_OBJ)

# GPU backends (gpu/*.cu, host-only gpu/*.cc): the two encoders link them,
# rnencode the image one (cuDNN + cuBLAS), txtencode gpu_text*, gpu_check
# (cuBLAS only), and only when nvcc is there, the image one only when cuDNN's
# header is found too (CUDNN_H= builds without it); every other program builds
# and tests without nvcc. Machine code for Ampere (sm_80) and Hopper (sm_90),
# PTX for later GPUs; warnings are errors. The CUDA runtime is linked
# statically, cuDNN and cuBLAS by soname (the GPU machine has them as pip
# packages: put their lib/ folders on LD_LIBRARY_PATH, see tests/gpu/README.md).
GPU_SRC := $(wildcard gpu/*.cu gpu/*.cc)
GPU_OBJ := $(addprefix $(BUILD)/,$(addsuffix .o,$(basename $(GPU_SRC))))
GPU_TEXT_OBJ := $(BUILD)/gpu/gpu_text.o $(BUILD)/gpu/gpu_text_kernels.o $(BUILD)/gpu/gpu_check.o
GPU_IMAGE_OBJ := $(filter-out $(BUILD)/gpu/gpu_text%.o,$(GPU_OBJ))
CUDA_HOME ?= $(patsubst %/bin/nvcc,%,$(NVCC))
CUDNN_H ?= $(firstword $(wildcard $(CUDA_HOME)/include/cudnn.h /usr/include/cudnn.h /usr/include/*/cudnn.h))
GPU_ARCH ?= -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 \
            -gencode arch=compute_90,code=compute_90
NVCCFLAGS ?= -O3 -std=c++17 $(GPU_ARCH) -Xcompiler -Wall,-Wextra,-Wshadow,-Werror -Werror all-warnings \
             -I. -Icommon -Igpu
ifeq ($(HAVE_NVCC),1)
ifneq ($(GPU_SRC),)
CUDA_LIBS := -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcublas -lcudart_static -ldl -lrt -lstdc++
ifneq ($(CUDNN_H),)
# CUDNN_H given: a cuDNN outside the default places (a tarball's or pip's
# include/ next to lib/). The places searched above are the compilers' own:
# naming them again (-I/usr/include) would break the C++ headers' include_next.
ifneq ($(filter command line environment,$(origin CUDNN_H)),)
CUDNN_INC := $(patsubst %/,%,$(dir $(CUDNN_H)))
NVCCFLAGS += -I$(CUDNN_INC)
CUDNN_LIBDIR := $(foreach d,$(wildcard $(CUDNN_INC)/../lib),-L$(d) -Wl,-rpath,$(d))
endif
OBJS_rnencode += $(GPU_IMAGE_OBJ)
LIBS_rnencode += $(CUDNN_LIBDIR) -lcudnn $(CUDA_LIBS)
CPPFLAGS_rnencode = -DHAVE_CUDA=1
endif
OBJS_txtencode += $(GPU_TEXT_OBJ)
LIBS_txtencode += $(CUDA_LIBS)
CPPFLAGS_txtencode = -DHAVE_CUDA=1
endif
endif
.SECONDARY: $(GPU_OBJ) $(MODEL_OBJ) # objects reached only through OBJS_<prog>: keep them between builds

.PHONY: all test asan bench weights classes fuzz clean gpu-note
all: gpu-note $(BINS) $(UNIT_TESTS) $(BUILD)/bench/recio

gpu-note:
	@$(if $(HAVE_NVCC),,echo "make: nvcc not found: building rnencode and txtencode without the CUDA backends")
	@$(if $(HAVE_NVCC),$(if $(CUDNN_H),,echo "make: cudnn.h not found (CUDNN_H=PATH names it): building rnencode without its CUDA backend"))

$(BUILD)/%.o: %.c $(wildcard common/*.h model/*.h gpu/*.h) Makefile
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/gpu/%.o: gpu/%.cu $(wildcard gpu/*.h common/*.h model/net.h model/text_encoder.h) Makefile
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -c -o $@ $<

$(BUILD)/gpu/%.o: gpu/%.cc $(wildcard gpu/*.h common/*.h model/net.h model/text_encoder.h) Makefile
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -c -o $@ $<

$(COMMON_LIB): $(COMMON_OBJ)
	rm -f $@ && ar rcs $@ $^

.SECONDEXPANSION:
$(BIN)/%: cmd/%.c $(COMMON_LIB) $$(OBJS_$$*) $(wildcard common/*.h model/*.h gpu/*.h) Makefile
	@mkdir -p $(BIN)
	$(CC) $(WARN) $(CPPFLAGS) $(CPPFLAGS_$*) $(CFLAGS) -o $@ $< $(OBJS_$*) $(COMMON_LIB) $(LIBS_$*) $(LDLIBS_COMMON) $(LDFLAGS)

$(BUILD)/tests/%: tests/unit/%.c tests/unit/check.h $(COMMON_LIB) $(wildcard common/*.h) Makefile
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

# zscore's default table, WEIGHTS/classes-clip-rn50.mp: NAMES x TEMPLATES (CLIP's 1000 x 80,
# 10-20 CPU-minutes) through txtencode; written under a temporary name, then renamed
classes: $(BIN)/txtencode
	@[ -e $(WEIGHTS)/RN50.pt ] || pipelines/fetch-weights --dir $(WEIGHTS) clip-rn50
	@echo "classes: $(NAMES) x $(TEMPLATES) -> $(WEIGHTS)/classes-clip-rn50.mp" >&2
	@$(BIN)/txtencode --weights $(WEIGHTS)/RN50.pt --names $(NAMES) --templates $(TEMPLATES) \
	  >$(WEIGHTS)/classes-clip-rn50.mp.tmp.$$$$ && mv -f $(WEIGHTS)/classes-clip-rn50.mp.tmp.$$$$ \
	  $(WEIGHTS)/classes-clip-rn50.mp || { rm -f $(WEIGHTS)/classes-clip-rn50.mp.tmp.$$$$; exit 2; }

# libFuzzer targets for the checkpoint readers (fuzz/fuzz_ckpt.c); see its header.
FUZZ_CC ?= clang-14
FUZZ_CKPT_SRC := common/ckpt.c common/ckpt_zip.c common/ckpt_pickle.c common/ckpt_safetensors.c \
                 common/sha256.c common/tensor.c common/diag.c
fuzz: build-fuzz/fuzz_ckpt_zip build-fuzz/fuzz_ckpt_pickle build-fuzz/fuzz_ckpt_safetensors

build-fuzz/fuzz_ckpt_%: fuzz/fuzz_ckpt.c $(FUZZ_CKPT_SRC) common/ckpt.h common/ckpt_internal.h Makefile
	@mkdir -p build-fuzz
	$(FUZZ_CC) $(WARN) $(CPPFLAGS) -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	  -DFUZZ_CKPT_$(shell echo $* | tr a-z A-Z) -o $@ $< $(FUZZ_CKPT_SRC)

# libFuzzer target for the image decode path (imgdecode); see fuzz/fuzz_jpeg.c.
FUZZ_IMG_SRC := common/imgproc.c common/imgjpeg.c common/imgpng.c common/imgresample.c common/tensor.c
fuzz: build-fuzz/fuzz_jpeg
build-fuzz/fuzz_jpeg: fuzz/fuzz_jpeg.c $(FUZZ_IMG_SRC) $(wildcard common/img*.h) Makefile
	@mkdir -p build-fuzz
	$(FUZZ_CC) $(WARN) $(CPPFLAGS) -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	  -o $@ $< $(FUZZ_IMG_SRC) -ljpeg -lpng -lz -lm

# libFuzzer target for the tar reader of WebDataset shards; see fuzz/fuzz_tar.c.
fuzz: build-fuzz/fuzz_tar
build-fuzz/fuzz_tar: fuzz/fuzz_tar.c fuzz/fuzz_memfd.h common/imgtar.c common/imgtar.h common/diag.h Makefile
	@mkdir -p build-fuzz
	$(FUZZ_CC) $(WARN) $(CPPFLAGS) -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	  -o $@ $< common/imgtar.c

# libFuzzer targets for the record reader (and what filters do with a record),
# txtencode's prompt files and tokenizer, .npy files and WordNet's data.noun;
# see each file's header.
FUZZ_REC_SRC := common/record.c common/classes.c common/json.c common/tensor.c common/diag.c common/scoring.c common/utf8.c \
                common/outfile.c
FUZZ_TEXT_SRC := common/prompts.c common/bpe.c common/bpe_tables.c common/diag.c common/utf8.c
FUZZ_NPY_SRC := common/npy.c common/tensor.c common/diag.c
FUZZ_WN_SRC := common/wordnet.c common/diag.c
fuzz: build-fuzz/fuzz_record build-fuzz/fuzz_text build-fuzz/fuzz_npy build-fuzz/fuzz_wordnet
build-fuzz/fuzz_wordnet: fuzz/fuzz_wordnet.c fuzz/fuzz_memfd.h $(FUZZ_WN_SRC) $(wildcard common/*.h) Makefile
	@mkdir -p build-fuzz
	$(FUZZ_CC) $(WARN) $(CPPFLAGS) -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	  -o $@ $< $(FUZZ_WN_SRC) -lm
build-fuzz/fuzz_record: fuzz/fuzz_record.c fuzz/fuzz_memfd.h $(FUZZ_REC_SRC) $(wildcard common/*.h) Makefile
	@mkdir -p build-fuzz
	$(FUZZ_CC) $(WARN) $(CPPFLAGS) -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	  -o $@ $< $(FUZZ_REC_SRC) -l:libmsgpackc.a -lm
build-fuzz/fuzz_text: fuzz/fuzz_text.c $(FUZZ_TEXT_SRC) $(wildcard common/*.h) Makefile
	@mkdir -p build-fuzz
	$(FUZZ_CC) $(WARN) $(CPPFLAGS) -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	  -o $@ $< $(FUZZ_TEXT_SRC) -lz -lm
build-fuzz/fuzz_npy: fuzz/fuzz_npy.c fuzz/fuzz_memfd.h $(FUZZ_NPY_SRC) $(wildcard common/*.h) Makefile
	@mkdir -p build-fuzz
	$(FUZZ_CC) $(WARN) $(CPPFLAGS) -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	  -o $@ $< $(FUZZ_NPY_SRC) -lm

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

# make study, make study-shards, make study-slurm: the whole study as cached stages (variables and stages there)
include pipelines/study.mk
