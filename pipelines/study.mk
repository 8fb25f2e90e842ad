# pipelines/study.mk - `make study`: the whole study as cached stages, ending in
# $(REPORT)/report.md. Included by the top-level Makefile.
#
#   make study                          both models, FP32 and FP16, the bundled sample
#   make study DATA=/imagenet/val       an ImageNet-style folder (class folders named by wnid)
#   make study DATA=val.tsv IMAGES=/imagenet/val   a labels TSV (file[<TAB>wnid]<TAB>index)
#   make study DATASET=imagenet-r DATA=/data/imagenet-r   a published set, as its descriptor
#                                       (pipelines/datasets/NAME.ds) says: layout, class subset
#   make study MODELS=clip-rn50 PRECISIONS=fp16 DEVICE=cuda BATCH=128
#   make study MODELS="resnet101 clip-rn50x4" PRECISIONS="fp32 bf16 fp16"
#                                       any models rnencode knows, any precisions its
#                                       backend computes (one refused stops the study
#                                       before any stage, with the backend's line)
#   make study PRECISIONS="fp32 int8"   INT8 (the CPU's): each model is calibrated first, by
#                                       default on the first CALIB_IMAGES (100) images of the
#                                       evaluated data set itself, in its order (so it is
#                                       scored on images it was calibrated on)
#   make study PRECISIONS="fp32 int8" CALIB=/data/calib   calibrate on another set instead:
#                                       a folder, or a list of image paths (one a line,
#                                       relative to the list's folder), all its images
#                                       unless CALIB_IMAGES is given
#   make study-shards SHARDS=4          the same, decode+encode split into 4 parallel shards
#   make study-slurm SHARDS=8 JOB_GPUS=1   the same as Slurm jobs: a decode+encode job array per
#                                       model and precision, then dependent merge, score and
#                                       report jobs (pipelines/study-slurm submits and waits)
#   make study-slurm-plan SHARDS=8      the plan of those jobs alone, nothing submitted
#
# Stages (each a file under $(CACHE), named by a hash of everything that made it):
#   dec-PRESET-KEY.mp         imgdecode --preset PRESET (each model's, as fetch-weights --list
#                             says: imagenet for resnet50, clip-288 for clip-rn50x4...),
#                             once per preset                 key: data listing, preset
#   calset-PRESET-KEY.mp      int8 only: imgdecode --preset PRESET, N images spread over
#                             the set (--first N*K --shard 0/K), the calibration images
#                             key: CALIB's listing or the data's, preset, N, K
#   cal-MODEL-KEY.mp          int8 only: rnencode --precision int8 --calibrate calset
#                             --save-calibration, the model's activation scales (a
#                             `calibration` record)      key: calset key, model, weights sha256
#   enc-MODEL-PREC-KEY.mp     rnencode (+ .mem.tsv, its memory samples; on a GPU .trace.tsv)
#                             key: decode key, model, weights sha256, precision, device,
#                             batch, shard count (int8: and the calibration's key)
#   classes-MODEL-KEY.mp      txtencode, a CLIP model's class embeddings (its own text tower)
#                             key: its weights' sha256, names, templates, BPE vocabulary
#   scores-MODEL-PREC-KEY.mp  zscore                 key: encode key (+ classes key for CLIP)
#   report-KEY/               pipelines/study-report key: every scores and encode key
# and $(REPORT)/ is a copy of the current report-KEY/. A stage whose file exists is not
# run again (make also reruns one whose program in $(STUDY_BIN) was rebuilt); changing a
# parameter changes the keys of exactly the stages that depend on it, and an earlier
# setting's files stay in the cache for when it comes back. Every stage writes to
# NAME.tmp.XXXXXX and renames (pipelines/study-run), and logs one line to $(CACHE)/stages.log.
#
# How: `study` builds the programs and fetches missing weights, then runs a second make
# with STUDY_RUN=1 in which the keys are computed (they need the weights' sha256).

# ---- parameters (make variables; the environment works too) ----
DATASET    ?=
DATA       ?= testdata/images
LABELS     ?= $(if $(filter testdata/images testdata/images/,$(DATA)),testdata/labels.tsv)
IMAGES     ?=
WNIDS      ?= data/wnids.txt
MODELS     ?= resnet50 clip-rn50
PRECISIONS ?= fp32 fp16
COMPARE    ?=
CALIB      ?=
CALIB_IMAGES ?=
DEVICE     ?= auto
BATCH      ?=
NAMES      ?= data/names-clip.txt
TEMPLATES  ?= data/templates-clip.txt
VOCAB      ?= data/clip/bpe_simple_vocab_16e6.txt.gz
JOBS       ?= $(shell nproc 2>/dev/null || echo 1)
WEIGHTS    ?= $(or $(RNENC_WEIGHTS),$(or $(XDG_CACHE_HOME),$(HOME)/.cache)/rnencode/weights)
CACHE      ?= cache
REPORT     ?= report
SHARDS     ?= 2
GPUS       ?= 1
JOB_GPUS   ?= 0
JOB_OPTS   ?=
STUDY_BIN  ?= $(BIN)

study_comma := ,
study_empty :=
study_space := $(study_empty) $(study_empty)
STUDY_PROGS := $(addprefix $(STUDY_BIN)/,imgdecode rnencode txtencode zscore errstats errtree fpdiff recview)
# the models: pipelines/fetch-weights' table (model/models.c's), "MODEL FILE PRESET" rows;
# those rnencode knows by name (not the V2 files' NAME-v2 rows, nor open_clip's NAME/TAG)
STUDY_TABLE := $(shell pipelines/fetch-weights --list | awk '$$1 !~ /(-v2|\/)/ { print $$1 ":" $$2 ":" $$3 }')
STUDY_KNOWN := $(foreach r,$(STUDY_TABLE),$(word 1,$(subst :, ,$(r))))
$(foreach r,$(STUDY_TABLE),$(eval STUDY_WNAME_$(word 1,$(subst :, ,$(r))) := $(word 2,$(subst :, ,$(r))))$(eval \
  STUDY_PRESET_$(word 1,$(subst :, ,$(r))) := $(word 3,$(subst :, ,$(r)))))
study_preset = $(STUDY_PRESET_$(1))
study_wfile = $(WEIGHTS)/$(STUDY_WNAME_$(1))
STUDY_WANT_CLIP := $(filter clip-%,$(MODELS))
# what rnencode --precision takes (common/util's opt_parse_precision)
STUDY_PRECISION_NAMES := fp32 tf32 bf16 fp16 int8
study_dups = $(strip $(foreach w,$(sort $(1)),$(if $(word 2,$(filter $(w),$(1))),$(w))))
# a dataset descriptor: its layout (how folders name classes) and class subset
study_ds = $(shell pipelines/dataset-check get $(DATASET) $(1))
STUDY_LAYOUT := $(if $(DATASET),$(call study_ds,layout),wnid-folders)
STUDY_SUBSET := $(if $(DATASET),$(call study_ds,subset))
STUDY_BORDER := $(if $(DATASET),$(call study_ds,border))

# ---- checks, before anything is built or fetched: one clear line each ----
ifneq ($(filter study study-shards study-slurm study-slurm-plan study-stages,$(MAKECMDGOALS)),)
$(foreach v,DATA LABELS IMAGES WNIDS CACHE REPORT WEIGHTS NAMES TEMPLATES VOCAB STUDY_BIN CALIB,\
  $(if $(word 2,$($(v))),$(error $(v)='$($(v))': paths with spaces are not supported)))
$(if $(STUDY_KNOWN),,$(error pipelines/fetch-weights --list failed: the model table is unreadable))
$(if $(strip $(MODELS)),,$(error MODELS is empty (e.g. resnet50 clip-rn50; any of: $(STUDY_KNOWN))))
$(if $(strip $(PRECISIONS)),,$(error PRECISIONS is empty (e.g. fp32 fp16; any of: $(STUDY_PRECISION_NAMES))))
$(foreach m,$(MODELS),$(if $(filter $(m),$(STUDY_KNOWN)),,$(error MODELS: unknown model '$(m)' (any of: $(STUDY_KNOWN)))))
$(foreach p,$(PRECISIONS),$(if $(filter $(p),$(STUDY_PRECISION_NAMES)),,\
  $(error PRECISIONS: unknown precision '$(p)' (any of: $(STUDY_PRECISION_NAMES)))))
$(if $(call study_dups,$(MODELS)),$(error MODELS names $(call study_dups,$(MODELS)) twice))
$(if $(call study_dups,$(PRECISIONS)),$(error PRECISIONS names $(call study_dups,$(PRECISIONS)) twice))
$(if $(and $(COMPARE),$(filter-out 2,$(words $(COMPARE)))),$(error COMPARE='$(COMPARE)': expected two of MODELS))
$(foreach m,$(COMPARE),$(if $(filter $(m),$(MODELS)),,$(error COMPARE: '$(m)' is not in MODELS ($(MODELS)))))
$(if $(call study_dups,$(COMPARE)),$(error COMPARE names $(COMPARE): two different models, please))
$(if $(filter auto cpu cuda,$(DEVICE)),,$(error DEVICE='$(DEVICE)': expected auto, cpu or cuda))
$(if $(shell echo "$(BATCH)$(JOBS)$(SHARDS)$(GPUS)$(JOB_GPUS)$(CALIB_IMAGES)" | grep "[^0-9]"),\
  $(error BATCH, JOBS, SHARDS, GPUS, JOB_GPUS and CALIB_IMAGES must be whole numbers (BATCH='$(BATCH)' JOBS='$(JOBS)' SHARDS='$(SHARDS)' GPUS='$(GPUS)' JOB_GPUS='$(JOB_GPUS)' CALIB_IMAGES='$(CALIB_IMAGES)')))
$(if $(filter 0,$(BATCH) $(SHARDS) $(GPUS) $(JOBS) $(CALIB_IMAGES)),$(error BATCH, SHARDS, GPUS, JOBS and CALIB_IMAGES must be at least 1))
$(if $(and $(filter study-slurm,$(MAKECMDGOALS)),$(filter cuda,$(DEVICE)),$(filter 0,$(JOB_GPUS))),\
  $(error DEVICE=cuda on Slurm needs JOB_GPUS=1 (or more): the GPUs each job asks for))
$(if $(DATASET),$(if $(STUDY_LAYOUT),,$(error DATASET=$(DATASET): see the line above (pipelines/dataset-check list))))
$(if $(and $(DATASET),$(filter testdata/images testdata/images/,$(DATA))),\
  $(error DATASET=$(DATASET) needs DATA=the folder (or labels TSV) holding it))
endif

.PHONY: study study-shards study-slurm study-slurm-plan study-weights study-stages study-slurm-run \
  study-slurm-plan-run study-demo
study: $(STUDY_PROGS) study-weights
	+@$(MAKE) --no-print-directory -f $(firstword $(MAKEFILE_LIST)) STUDY_RUN=1 study-stages

study-shards: $(STUDY_PROGS) study-weights
	+@$(MAKE) --no-print-directory -f $(firstword $(MAKEFILE_LIST)) STUDY_RUN=1 STUDY_SHARDS=$(SHARDS) \
	  -j$(SHARDS) study-stages

# the same stages as Slurm jobs: this make computes the keys, writes the plan of the stages
# (pipelines/study-slurm reads it), submits what is missing and waits for it
study-slurm: $(STUDY_PROGS) study-weights
	+@$(MAKE) --no-print-directory -f $(firstword $(MAKEFILE_LIST)) STUDY_RUN=1 STUDY_SHARDS=$(SHARDS) STUDY_SLURM=1 \
	  study-slurm-run

# the plan alone, submitting nothing: its file's path on stdout (a line per job: name,
# tasks, output, the jobs it waits for, gpu, inputs, command)
study-slurm-plan: $(STUDY_PROGS) study-weights
	+@$(MAKE) --no-print-directory -f $(firstword $(MAKEFILE_LIST)) STUDY_RUN=1 STUDY_SHARDS=$(SHARDS) STUDY_SLURM=1 \
	  study-slurm-plan-run

# make study-demo: the whole study in a minute or two without the published weights, on
# the random-weight checkpoints the tests make (tests/py/make_checkpoints.py, PyTorch),
# DEMO_IMAGES of the sample images and one CLIP template, into its own cache and
# $(DEMO_REPORT)/, the report labelled as random weights throughout. Its files are
# rewritten only when they change, so a second run recomputes nothing.
DEMO_IMAGES ?= 8
DEMO_DIR    ?= $(BUILD)/demo
DEMO_REPORT ?= report-demo
DEMO_PYTHON ?= /usr/bin/python3
DEMO_CKPT   := $(BUILD)/fixtures
study-demo: $(STUDY_PROGS)
	@[ -s $(DEMO_CKPT)/checksums.json ] || { mkdir -p $(DEMO_CKPT) && \
	  echo "study-demo: writing random-weight checkpoints into $(DEMO_CKPT) (tests/py/make_checkpoints.py, about 30 s)" >&2 && \
	  flock $(DEMO_CKPT)/.lock sh -c '[ -s $(DEMO_CKPT)/checksums.json ] || $(DEMO_PYTHON) tests/py/make_checkpoints.py $(DEMO_CKPT) >&2' \
	  || { echo "study-demo: tests/py/make_checkpoints.py failed: it needs PyTorch ($(DEMO_PYTHON); ./install-deps)" >&2; exit 2; }; }
	@mkdir -p $(DEMO_DIR)/weights && \
	  ln -sfn $(abspath $(DEMO_CKPT))/resnet50.pth $(DEMO_DIR)/weights/resnet50-0676ba61.pth && \
	  ln -sfn $(abspath $(DEMO_CKPT))/clip-rn50.pt $(DEMO_DIR)/weights/RN50.pt && \
	  head -n $$(($(DEMO_IMAGES) + 1)) testdata/labels.tsv >$(DEMO_DIR)/labels.new && \
	  head -n 1 data/templates-clip.txt >$(DEMO_DIR)/templates.new && \
	  for f in labels templates; do cmp -s $(DEMO_DIR)/$$f.new $(DEMO_DIR)/$$f.txt && rm -f $(DEMO_DIR)/$$f.new || \
	    mv -f $(DEMO_DIR)/$$f.new $(DEMO_DIR)/$$f.txt; done
	+@$(MAKE) --no-print-directory -f $(firstword $(MAKEFILE_LIST)) study STUDY_DEMO=1 WEIGHTS=$(DEMO_DIR)/weights \
	  CACHE=$(DEMO_DIR)/cache REPORT=$(DEMO_REPORT) DATA=$(DEMO_DIR)/labels.txt IMAGES=testdata/images \
	  TEMPLATES=$(DEMO_DIR)/templates.txt

# Weights already in place are used as they are (the report says whether each one is the
# published file); a missing one is fetched and checked by pipelines/fetch-weights, which
# offline says in one line what to download and where to put it.
# One fetch-weights call for every missing file, so that offline its line names them all.
study-weights:
	@missing="$(foreach m,$(MODELS),$$([ -e $(call study_wfile,$(m)) ] || echo $(m)))"; \
	  [ -z "$$(echo $$missing)" ] || pipelines/fetch-weights --dir $(WEIGHTS) $$missing || exit 2

ifeq ($(STUDY_RUN),1)
STUDY_SHARDS ?= 1
STUDY_LOG := $(CACHE)/stages.log
STUDY_RUNNER := pipelines/study-run --log $(STUDY_LOG)

# ---- resolved settings ----
ifeq ($(STUDY_SLURM),1)
study_cuda_built = $(shell ldd $(STUDY_BIN)/rnencode 2>/dev/null | grep -q libcudnn && echo cuda)
# on Slurm the jobs' GPUs are JOB_GPUS (--gres=gpu:N): this host's do not count
$(if $(and $(filter auto,$(DEVICE)),$(filter-out 0,$(JOB_GPUS)),$(if $(study_cuda_built),,x)),\
  $(error JOB_GPUS=$(JOB_GPUS): $(STUDY_BIN)/rnencode was built without CUDA (DEVICE=cpu runs the jobs on the CPU)))
STUDY_DEVICE := $(if $(filter auto,$(DEVICE)),$(if $(filter 0,$(JOB_GPUS)),cpu,cuda),$(DEVICE))
else
study_has_gpu := $(if $(filter auto,$(DEVICE)),$(shell nvidia-smi -L 2>/dev/null | grep -q '^GPU' && echo yes))
study_gpu := $(if $(study_has_gpu),$(shell ldd $(STUDY_BIN)/rnencode 2>/dev/null | grep -q libcudnn && echo cuda))
STUDY_DEVICE := $(if $(filter auto,$(DEVICE)),$(or $(study_gpu),cpu),$(DEVICE))
# said once here; the programs get --device and say nothing of it
$(shell echo "study: device $(STUDY_DEVICE) ($(if $(filter auto,$(DEVICE)),DEVICE=auto: $(if $(study_gpu),nvidia-smi \
  lists a GPU,$(if $(study_has_gpu),$(STUDY_BIN)/rnencode was built without cuDNN,no GPU (nvidia-smi lists none))),\
  DEVICE=$(DEVICE)))" >&2)
endif
STUDY_BATCH := $(or $(BATCH),8)
STUDY_PRESETS := $(sort $(foreach m,$(MODELS),$(call study_preset,$(m))))
study_hash = $(shell printf '%s\n' $(1) | sha256sum | cut -c1-16)
study_sha = $(shell pipelines/study-id sha $(CACHE)/ids $(1))
study_need = $(if $(1),$(1),$(error $(2)))

# the manifest against the descriptor, before anything long runs: a count that
# differs is a warning (STRICT=1: an error), labels that would be wrong an error
ifneq ($(DATASET),)
study_manifest_st := $(shell mkdir -p $(CACHE) && pipelines/dataset-check $(if $(STRICT),--strict) --wnids $(WNIDS) \
  $(DATASET) $(DATA) >$(CACHE)/manifest.txt 2>$(CACHE)/manifest.err; st=$$?; cat $(CACHE)/manifest.txt $(CACHE)/manifest.err >&2; \
  echo $$st)
$(if $(filter 0,$(study_manifest_st)),,$(error DATASET=$(DATASET): the manifest check failed (the lines above say why)))
STUDY_MANIFEST := $(shell head -n 1 $(CACHE)/manifest.txt | sed 's/^dataset-check: //')
endif
# ObjectNet: its mappings/ make a labels TSV of the overlapping classes' images and the
# groups zscore scores them by
ifeq ($(STUDY_LAYOUT),objectnet)
$(if $(shell pipelines/objectnet-map $(DATA) $(CACHE)/objectnet >&2 && echo ok),,\
  $(error DATA=$(DATA): cannot read ObjectNet's mappings (the line above says why)))
STUDY_DATA_IN := $(CACHE)/objectnet/labels.tsv
STUDY_IMAGES_IN := $(abspath $(DATA))/images
STUDY_GROUPS := $(CACHE)/objectnet/groups.txt
else
STUDY_DATA_IN := $(DATA)
STUDY_IMAGES_IN := $(IMAGES)
endif
study_data := $(shell pipelines/study-id data $(CACHE)/lists $(STUDY_DATA_IN) $(or $(LABELS),-) $(WNIDS) $(STUDY_IMAGES_IN))
$(if $(study_data),,$(error DATA=$(DATA): cannot identify the data set (the line above says why)))
STUDY_DATA_KIND := $(word 1,$(study_data))
STUDY_DATA_ID := $(word 2,$(study_data))
STUDY_LIST := $(CACHE)/lists/$(STUDY_DATA_ID)
$(foreach m,$(MODELS),$(eval STUDY_WSHA_$(m) := $(call study_need,$(call study_sha,$(call study_wfile,$(m))),\
  $(call study_wfile,$(m)): cannot read the weights)))
# Does the backend compute each model in each precision? Asked here, before any stage
# (pipelines/precision-check: one image), so that a refused one stops the study with the
# backend's line instead of after the other runs; remembered per program, weights, device
# and precision. FP32 is every backend's. On Slurm the nodes decide, not this host (its
# CPU or GPU may differ): a refusal fails the encoder tasks, named with their logs.
ifneq ($(STUDY_SLURM),1)
study_check_stamp = $(CACHE)/checks/precision-$(call study_hash,precision $(STUDY_RNENCODE_SHA) $(STUDY_WSHA_$(1)) \
  $(1) $(2) $(STUDY_DEVICE))
STUDY_PREC_CHECK := $(filter-out fp32,$(PRECISIONS))
STUDY_RNENCODE_SHA := $(if $(STUDY_PREC_CHECK),$(call study_sha,$(STUDY_BIN)/rnencode))
# (one shell: the checks stop at the first refusal, whose line is the output)
STUDY_PREC_ERR := $(if $(STUDY_PREC_CHECK),$(shell $(foreach m,$(MODELS),$(foreach p,$(STUDY_PREC_CHECK),\
  pipelines/precision-check --bin $(STUDY_BIN) --device $(STUDY_DEVICE) --stamp $(call study_check_stamp,$(m),$(p)) \
  $(m) $(call study_preset,$(m)) $(call study_wfile,$(m)) $(p) &&)) true))
$(if $(STUDY_PREC_ERR),$(error PRECISIONS: $(STUDY_PREC_ERR)))
endif
ifneq ($(STUDY_WANT_CLIP),)
STUDY_TEXT_ID := $(call study_need,$(call study_sha,$(NAMES) $(TEMPLATES) $(VOCAB)),cannot read NAMES, TEMPLATES or VOCAB)
# one table per CLIP model, from its own text tower; the device is in the key: a table
# made on the CPU is not reused on the GPU (they differ within 1e-4, but a cache must say
# what made it)
$(foreach m,$(STUDY_WANT_CLIP),$(eval STUDY_CLASSES_$(m) := $(CACHE)/classes-$(m)-$(call study_hash,classes \
  $(STUDY_WSHA_$(m)) $(STUDY_TEXT_ID) $(STUDY_DEVICE)).mp))
endif
STUDY_SUBSET_ID := $(if $(STUDY_SUBSET),subset=$(call study_sha,$(STUDY_SUBSET)))$(if \
  $(STUDY_GROUPS),groups=$(call study_sha,$(STUDY_GROUPS)))

# imgdecode's inputs: the folder itself, or the TSV's list on stdin
STUDY_DEC_ARGS := $(if $(STUDY_BORDER),--border $(STUDY_BORDER) )$(if $(filter dir,$(STUDY_DATA_KIND)),$(if \
  $(filter index-folders,$(STUDY_LAYOUT)),--index-folders,\
  --wnids $(abspath $(WNIDS))) \
  $(if $(LABELS),--labels $(abspath $(LABELS))) $(abspath $(DATA)),--labels $(abspath $(STUDY_LIST).tsv) -)
STUDY_DEC_IN := $(if $(filter tsv,$(STUDY_DATA_KIND)),--in $(STUDY_LIST).list)
STUDY_SHARD_LIST := $(shell seq 0 $$(($(STUDY_SHARDS) - 1)))
study_of = $(1)of$(STUDY_SHARDS)

# ---- decode: one stream per preset (and per shard; on Slurm each shard's decode feeds its
# encoder through a pipe, pipelines/encode-shard, and is not kept) ----
define study_decode_rules
STUDY_DEC_$(1) := $(CACHE)/dec-$(1)-$(call study_hash,decode $(1) $(STUDY_DATA_ID) $(STUDY_LAYOUT) border=$(STUDY_BORDER))
ifneq ($(STUDY_SLURM),1)
ifeq ($(STUDY_SHARDS),1)
$$(STUDY_DEC_$(1)).mp: $(STUDY_BIN)/imgdecode
	@mkdir -p $(CACHE)
	@$(STUDY_RUNNER) --out $$@ $(STUDY_DEC_IN) -- $(STUDY_BIN)/imgdecode --preset $(1) -j $(JOBS) $(STUDY_DEC_ARGS)
else
$(foreach i,$(STUDY_SHARD_LIST),
$$(STUDY_DEC_$(1))-$(call study_of,$(i)).mp: $(STUDY_BIN)/imgdecode
	@mkdir -p $(CACHE)
	@$(STUDY_RUNNER) --out $$@ $(STUDY_DEC_IN) -- $(STUDY_BIN)/imgdecode --preset $(1) -j $(JOBS) \
	  --shard $(i)/$(STUDY_SHARDS) $(STUDY_DEC_ARGS)
)
endif
endif
endef
$(foreach p,$(STUDY_PRESETS),$(eval $(call study_decode_rules,$(p))))

# ---- INT8 calibration: per model, once, before its int8 encodes ----
# The set (as PyTorch's post-training quantization is calibrated: a sample of images run
# through the FP32 network): CALIB's images (all, or its first CALIB_IMAGES), else the
# first CALIB_IMAGES (100) of the evaluated data set in its own order, decoded once per
# preset (imgdecode --first: fewer when the set is smaller). Then rnencode measures each
# model's activation scales on it and saves them (--save-calibration); every int8 encode
# loads them (--calibration), shards included. rnencode calibrates with nothing on
# stdin (study-run's /dev/null): no int8 encode of the set on the way.
# INT8 is the CPU backend's: the calibration runs there.
ifneq ($(filter int8,$(PRECISIONS)),)
STUDY_CAL_N := $(or $(CALIB_IMAGES),$(if $(CALIB),,100))
ifneq ($(CALIB),)
study_calib := $(shell pipelines/study-id data $(CACHE)/lists $(CALIB) - -)
$(if $(study_calib),,$(error CALIB=$(CALIB): cannot identify the calibration set (the line above says why)))
STUDY_CALSET_ID := calib $(study_calib)
STUDY_CALSET_ARGS := $(if $(filter dir,$(word 1,$(study_calib))),$(abspath $(CALIB)),-)
STUDY_CALSET_IN := $(if $(filter tsv,$(word 1,$(study_calib))),--in $(CACHE)/lists/$(word 2,$(study_calib)).list)
STUDY_CAL_COUNT := $(word 3,$(study_calib))
STUDY_CAL_SOURCE = $(if $(CALIB_IMAGES),$(STUDY_CAL_WHICH) of ,)CALIB=\`$(CALIB)\`
else
STUDY_CALSET_ID := data $(STUDY_DATA_ID) $(STUDY_LAYOUT) border=$(STUDY_BORDER)
STUDY_CALSET_ARGS := $(STUDY_DEC_ARGS)
STUDY_CALSET_IN := $(STUDY_DEC_IN)
STUDY_CAL_COUNT := $(word 3,$(study_data))
STUDY_CAL_SOURCE = $(STUDY_CAL_WHICH) of the evaluated $(if $(DATASET),$(DATASET) ,)data \
  \`$(DATA)\` (the study scores images it calibrated on)
endif
# N images of a set of C (study-id's count) are every Kth of its first N*K, K = C / N
# (imgdecode --first N*K --shard 0/K): a layout of class folders gives each class its
# share, where the first N would be its first classes; the first N where C < 2N or
# where the images are not counted before decoding (a WebDataset's tars)
STUDY_CAL_K := $(if $(STUDY_CAL_N),$(shell c=$(or $(STUDY_CAL_COUNT),0) n=$(STUDY_CAL_N); \
  [ "$$c" -ge $$((2 * n)) ] 2>/dev/null && echo $$((c / n))))
STUDY_CAL_NK := $(if $(STUDY_CAL_K),$(shell echo $$(($(STUDY_CAL_N) * $(STUDY_CAL_K)))))
STUDY_CAL_WHICH = $(if $(STUDY_CAL_K),$(STUDY_CAL_N) images (one in every $(STUDY_CAL_K) in its order),the first \
  $(STUDY_CAL_N) images)
define study_calset_rules
STUDY_CALSET_$(1) := $(CACHE)/calset-$(1)-$(call study_hash,calset $(1) $(STUDY_CALSET_ID) first=$(STUDY_CAL_N) \
  every=$(STUDY_CAL_K))
study_calset_cmd_$(1) := $(STUDY_RUNNER) --out $$(STUDY_CALSET_$(1)).mp $(STUDY_CALSET_IN) -- $(STUDY_BIN)/imgdecode \
  --preset $(1) -j $(JOBS)$(if $(STUDY_CAL_K), --first $(STUDY_CAL_NK) --shard 0/$(STUDY_CAL_K),$(if \
  $(STUDY_CAL_N), --first $(STUDY_CAL_N))) $(STUDY_CALSET_ARGS)
$$(STUDY_CALSET_$(1)).mp: $(STUDY_BIN)/imgdecode
	@mkdir -p $(CACHE)
	@$$(study_calset_cmd_$(1))
endef
$(foreach p,$(STUDY_PRESETS),$(eval $(call study_calset_rules,$(p))))
define study_cal_rules
STUDY_CAL_$(1) := $(CACHE)/cal-$(1)-$(call study_hash,calibrate $(STUDY_CALSET_$(call study_preset,$(1))) $(1) \
  $(STUDY_WSHA_$(1)))
# (a set without an image, an empty CALIB folder say, would leave rnencode nothing to
# start on: said here, in words; no `exit`, which would skip a Slurm job's status line)
study_cal_cmd_$(1) := if $(STUDY_BIN)/recview --count $(STUDY_CALSET_$(call study_preset,$(1))).mp | grep -q '^image '; \
  then $(STUDY_RUNNER) --arg $$(STUDY_CAL_$(1)).mp \
  -- $(STUDY_BIN)/rnencode --model $(1) --weights $(call study_wfile,$(1)) --device cpu --precision int8 \
  --calibrate $(STUDY_CALSET_$(call study_preset,$(1))).mp --save-calibration; \
  else echo "study: $$(notdir $$(STUDY_CAL_$(1))).mp: no image in $(STUDY_CALSET_$(call study_preset,$(1))).mp to \
  calibrate $(1) on (imgdecode's lines above say why)" >&2; (exit 2); fi
$$(STUDY_CAL_$(1)).mp: $(STUDY_CALSET_$(call study_preset,$(1))).mp $(STUDY_BIN)/rnencode
	@$$(study_cal_cmd_$(1))
endef
$(foreach m,$(MODELS),$(eval $(call study_cal_rules,$(m))))
endif
# an int8 run's calibration file, else nothing
study_cal_of = $(if $(filter int8,$(2)),$(STUDY_CAL_$(1)).mp)

# ---- encode: one stream per model and precision ----
# on a GPU, rnencode writes its device allocation timeline beside the stream (the
# report plots it; the stage runner samples the host side)
study_trace = $(if $(filter cuda,$(STUDY_DEVICE)), --mem-trace $$(@:.mp=.trace.tsv))
study_gpu_of = $(if $(filter cuda,$(STUDY_DEVICE)),--gpu $(shell echo $$(($(1) % $(GPUS)))))
study_enc_opts = --weights $(call study_wfile,$(1)) --device $(STUDY_DEVICE) --batch $(STUDY_BATCH)
define study_encode_rules
STUDY_ENC_$(1)_$(2) := $(CACHE)/enc-$(1)-$(2)-$(call study_hash,encode $(STUDY_DEC_$(call study_preset,$(1))) $(1) \
  $(STUDY_WSHA_$(1)) $(2) $(STUDY_DEVICE) $(STUDY_BATCH) shards=$(STUDY_SHARDS) $(call study_cal_of,$(1),$(2)))
study_enc_cmd_$(1)_$(2) := $(STUDY_BIN)/rnencode --model $(1) $(call study_enc_opts,$(1)) --precision $(2)$(if \
  $(call study_cal_of,$(1),$(2)), --calibration $(call study_cal_of,$(1),$(2)))
ifeq ($(STUDY_SHARDS),1)
STUDY_MEM_$(1)_$(2) := $$(STUDY_ENC_$(1)_$(2)).mem.tsv
ifneq ($(STUDY_SLURM),1)
$$(STUDY_ENC_$(1)_$(2)).mp: $$(STUDY_DEC_$(call study_preset,$(1))).mp $(STUDY_BIN)/rnencode $(call study_cal_of,$(1),$(2))
	@$(STUDY_RUNNER) --out $$@ --in $$< --mem $$(@:.mp=.mem.tsv) \
	  -- $$(study_enc_cmd_$(1)_$(2))$(study_trace)
endif
else
STUDY_MEM_$(1)_$(2) := $(foreach i,$(STUDY_SHARD_LIST),$$(STUDY_ENC_$(1)_$(2))-$(call study_of,$(i)).mem.tsv)
# the shards' streams concatenate into one
study_merge_cmd_$(1)_$(2) := $(STUDY_RUNNER) --out $$(STUDY_ENC_$(1)_$(2)).mp -- cat \
  $(foreach i,$(STUDY_SHARD_LIST),$$(STUDY_ENC_$(1)_$(2))-$(call study_of,$(i)).mp)
ifneq ($(STUDY_SLURM),1)
$(foreach i,$(STUDY_SHARD_LIST),
$$(STUDY_ENC_$(1)_$(2))-$(call study_of,$(i)).mp: $$(STUDY_DEC_$(call study_preset,$(1)))-$(call study_of,$(i)).mp \
  $(STUDY_BIN)/rnencode $(call study_cal_of,$(1),$(2))
	@$(STUDY_RUNNER) --out $$@ --in $$< --mem $$(@:.mp=.mem.tsv) \
	  -- $$(study_enc_cmd_$(1)_$(2))$(study_trace) $(call study_gpu_of,$(i))
)
$$(STUDY_ENC_$(1)_$(2)).mp: $(foreach i,$(STUDY_SHARD_LIST),$$(STUDY_ENC_$(1)_$(2))-$(call study_of,$(i)).mp)
	@$$(study_merge_cmd_$(1)_$(2))
endif
endif

# ---- scores ----
# (doubled dollars: eval expands the key, once the encode key above is defined)
STUDY_SCORES_$(1)_$(2) := $(CACHE)/scores-$(1)-$(2)-$$(call study_hash,scores $$(STUDY_ENC_$(1)_$(2)) \
  $(STUDY_CLASSES_$(1)) $(STUDY_SUBSET_ID))
study_scores_cmd_$(1)_$(2) := $(STUDY_RUNNER) --out $$(STUDY_SCORES_$(1)_$(2)).mp --in $$(STUDY_ENC_$(1)_$(2)).mp \
  -- $(STUDY_BIN)/zscore$(if $(STUDY_CLASSES_$(1)), --classes $(STUDY_CLASSES_$(1)))$(if \
  $(STUDY_SUBSET), --subset $(STUDY_SUBSET))$(if $(STUDY_GROUPS), --groups $(STUDY_GROUPS))
$$(STUDY_SCORES_$(1)_$(2)).mp: $$(STUDY_ENC_$(1)_$(2)).mp $(STUDY_CLASSES_$(1)) \
  $(STUDY_BIN)/zscore
	@$$(study_scores_cmd_$(1)_$(2))
endef
$(foreach m,$(MODELS),$(foreach p,$(PRECISIONS),$(eval $(call study_encode_rules,$(m),$(p)))))

# ---- CLIP's class embeddings, per CLIP model: txtencode reads the text tower's widths
# from the file ----
define study_classes_rules
study_classes_cmd_$(1) := $(STUDY_RUNNER) --out $(STUDY_CLASSES_$(1)) -- $(STUDY_BIN)/txtencode --weights \
  $(call study_wfile,$(1)) --names $(NAMES) --templates $(TEMPLATES) --vocab $(VOCAB) --device $(STUDY_DEVICE)
$(STUDY_CLASSES_$(1)): $(STUDY_BIN)/txtencode
	@mkdir -p $(CACHE)
	@$$(study_classes_cmd_$(1))
endef
$(foreach m,$(STUDY_WANT_CLIP),$(eval $(call study_classes_rules,$(m))))

# ---- the report ----
# a run is MODEL_PRECISION (model names hold underscores, precisions none)
STUDY_RUNS := $(foreach m,$(MODELS),$(foreach p,$(PRECISIONS),$(m)_$(p)))
study_prec = $(lastword $(subst _, ,$(1)))
study_model = $(patsubst %_$(call study_prec,$(1)),%,$(1))
study_job = $(call study_model,$(1))-$(call study_prec,$(1))
STUDY_REPORT_KEY := $(call study_hash,report $(foreach r,$(STUDY_RUNS),$(STUDY_SCORES_$(r)) $(STUDY_ENC_$(r))) \
  $(call study_sha,$(NAMES))$(if $(COMPARE), compare=$(COMPARE)))
STUDY_REPORT_DIR := $(CACHE)/report-$(STUDY_REPORT_KEY)
study_nlines = $(shell grep -cv '^[[:space:]]*$$' $(1) 2>/dev/null)
STUDY_SETTINGS := \
  $(if $(STUDY_DEMO),--set "weights=**random weights** (\`make study-demo\`: the test checkpoints of \
    tests/py/make_checkpoints.py): every accuracy below is chance and not the models'; the run shows the pipeline \
    and the report. \`make study\` runs the published weights") \
  --set "data=\`$(DATA)\`$(if $(LABELS), (labels \`$(LABELS)\`))$(if $(IMAGES), (images \`$(IMAGES)\`))" \
  $(if $(DATASET),--set "dataset=$(STUDY_MANIFEST); expected $(call study_ds,images) images in $(call study_ds,classes) classes$(if \
    $(STUDY_SUBSET), (scored over them only: zscore --subset \`$(notdir $(STUDY_SUBSET))\`))$(if $(STUDY_GROUPS), (each a group \
    of ImageNet classes: zscore --groups))$(if $(STUDY_BORDER), ($(STUDY_BORDER)-pixel border cut: imgdecode --border)); headline \
    metric: $(call study_ds,metric)") \
  --set "device=$(STUDY_DEVICE)$(if $(filter auto,$(DEVICE)), (DEVICE=auto))" --set "batch=$(STUDY_BATCH)" \
  --set "shards=$(STUDY_SHARDS)" \
  $(if $(STUDY_WANT_CLIP),--set "CLIP prompts=\`$(TEMPLATES)\` ($(call study_nlines,$(TEMPLATES)) templates) x \`$(NAMES)\` ($(call study_nlines,$(NAMES)) classes)") \
  --set "cache=\`$(CACHE)\` (report-$(STUDY_REPORT_KEY))"
STUDY_REPORT_PROGS := $(addprefix $(STUDY_BIN)/,errstats errtree fpdiff recview) \
  pipelines/study-report pipelines/json-flat.awk pipelines/memplot.awk pipelines/studyplot.awk
STUDY_REPORT_CMD := RNENC_DATA=$(CURDIR)/data $(STUDY_RUNNER) --dir $(STUDY_REPORT_DIR) -- pipelines/study-report \
  --bin $(STUDY_BIN) --names $(NAMES) $(STUDY_SETTINGS)$(if $(COMPARE), --compare $(word 1,$(COMPARE)) $(word \
  2,$(COMPARE))) $(foreach r,$(STUDY_RUNS),--run $(call study_model,$(r)) $(call study_prec,$(r)) \
  $(STUDY_SCORES_$(r)).mp $(STUDY_ENC_$(r)).mp \
    $(subst $(study_space),$(study_comma),$(strip $(STUDY_MEM_$(r)))))$(foreach m,$(if $(filter \
  int8,$(PRECISIONS)),$(MODELS)), --calibration $(m) $(STUDY_CAL_$(m)).mp "$(STUDY_CAL_SOURCE)")
STUDY_CAL_FILES := $(foreach m,$(MODELS),$(call study_cal_of,$(m),$(PRECISIONS)))

$(STUDY_REPORT_DIR)/report.md: $(foreach r,$(STUDY_RUNS),$(STUDY_SCORES_$(r)).mp $(STUDY_ENC_$(r)).mp) \
  $(STUDY_CAL_FILES) $(STUDY_REPORT_PROGS)
	@$(STUDY_REPORT_CMD)

# $(REPORT) is replaced only when it is a report this target wrote (or empty): never
# someone's folder or file given by mistake
STUDY_PUBLISHED := $(REPORT)/.study-$(STUDY_REPORT_KEY)
STUDY_PUBLISH_CMD = if [ -e $(REPORT) ] && [ ! -d $(REPORT) ]; then \
  echo "study: $(REPORT) is not a folder: not replacing it (set REPORT=another folder)" >&2; exit 2; fi; \
  if [ -d $(REPORT) ] && [ -n "$$(ls -A $(REPORT))" ] && ! ls -A $(REPORT) | grep -q '^\.study-'; then \
  echo "study: $(REPORT) holds other files: not replacing it (set REPORT=another folder)" >&2; exit 2; fi; \
  rm -rf $(REPORT).tmp.$$$$ && cp -R $(STUDY_REPORT_DIR) $(REPORT).tmp.$$$$ && \
  touch $(REPORT).tmp.$$$$/$(notdir $(STUDY_PUBLISHED)) && rm -rf $(REPORT) && mv $(REPORT).tmp.$$$$ $(REPORT)
$(STUDY_PUBLISHED): $(STUDY_REPORT_DIR)/report.md
	@$(STUDY_PUBLISH_CMD)

# ---- on Slurm: the plan of the same stages, for pipelines/study-slurm ----
# One line per job, tab-separated: NAME, TASKS (an array's task count, 0 for one job),
# OUTPUT (%a: the task's index), AFTER (the jobs it needs, comma-separated), GPU (gpu: it
# gets the JOB_GPUS GPUs), PREREQS (files newer than OUTPUT make it stale: programs and
# inputs), COMMAND (run in this folder; ${SLURM_ARRAY_TASK_ID} is an array task's index).
# An array task decodes and encodes its shard in one pipe (pipelines/encode-shard), which
# checks that rnencode used the weights whose sha256 is in the keys.
ifeq ($(STUDY_SLURM),1)
study_tab := $(study_empty)	$(study_empty)
define study_nl


endef
study_task := $${SLURM_ARRAY_TASK_ID}
# R is a run, MODEL_PRECISION (as in STUDY_RUNS); $(2) a shard index (or %a, or the task's)
study_shard_file = $(STUDY_ENC_$(1))$(if $(filter-out 1,$(STUDY_SHARDS)),-$(2)of$(STUDY_SHARDS))
study_run_cal = $(call study_cal_of,$(call study_model,$(1)),$(call study_prec,$(1)))
study_shard_cmd = STUDY_BIN=$(STUDY_BIN) RNENC_SHA256=$(STUDY_WSHA_$(call study_model,$(1))) \
  RNENCODE_OPTS='$(call study_enc_opts,$(call study_model,$(1)))$(if $(filter cuda,$(STUDY_DEVICE)), --mem-trace \
  $(call study_shard_file,$(1),$(study_task)).trace.tsv)$(if $(call study_run_cal,$(1)), --calibration \
  $(call study_run_cal,$(1)))' \
  pipelines/encode-shard --log $(STUDY_LOG) --mem $(call study_shard_file,$(1),$(study_task)).mem.tsv \
  $(study_task)/$(STUDY_SHARDS) $(call study_shard_file,$(1),$(study_task)).mp $(call study_model,$(1)) \
  $(call study_prec,$(1)) -j $(JOBS) $(STUDY_DEC_ARGS)$(if $(STUDY_DEC_IN), <$(STUDY_LIST).list)
study_is_clip = $(STUDY_CLASSES_$(call study_model,$(1)))
# (the reader trims the spaces that line continuations and foreach leave around fields)
study_plan_line = $(1)$(study_tab)$(2)$(study_tab)$(3)$(study_tab)$(4)$(study_tab)$(5)$(study_tab)$(6)$(study_tab)$(7)$(study_nl)
study_plan_enc = $(call study_plan_line,enc-$(call study_job,$(1)),$(STUDY_SHARDS),$(call study_shard_file,$(1),%a).mp,$(if \
  $(call study_run_cal,$(1)),cal-$(call study_model,$(1)),-),gpu,$(STUDY_BIN)/imgdecode $(STUDY_BIN)/rnencode \
  $(call study_run_cal,$(1)),$(call study_shard_cmd,$(1)))
# int8: the calibration images once per preset, then each model's calibration (on the
# CPU: no GPU asked), before its int8 array
study_plan_cal = $(foreach p,$(STUDY_PRESETS),$(call study_plan_line,calset-$(p),0,$(STUDY_CALSET_$(p)).mp,-,-,\
  $(STUDY_BIN)/imgdecode,$(study_calset_cmd_$(p))))$(foreach m,$(MODELS),$(call study_plan_line,cal-$(m),0,\
  $(STUDY_CAL_$(m)).mp,calset-$(call study_preset,$(m)),-,$(STUDY_CALSET_$(call study_preset,$(m))).mp \
  $(STUDY_BIN)/rnencode,$(study_cal_cmd_$(m))))
study_plan_merge = $(call study_plan_line,merge-$(call study_job,$(1)),0,$(STUDY_ENC_$(1)).mp,enc-$(call study_job,$(1)),-,\
  $(foreach i,$(STUDY_SHARD_LIST),$(call study_shard_file,$(1),$(i)).mp),$(study_merge_cmd_$(1)))
study_plan_scores = $(call study_plan_line,scores-$(call study_job,$(1)),0,$(STUDY_SCORES_$(1)).mp,\
  $(if $(filter 1,$(STUDY_SHARDS)),enc,merge)-$(call study_job,$(1))$(if $(call study_is_clip,$(1)),$(study_comma)classes-$(call study_model,$(1))),-,\
  $(STUDY_ENC_$(1)).mp $(call study_is_clip,$(1)) $(STUDY_BIN)/zscore,$(study_scores_cmd_$(1)))
STUDY_PLAN_TEXT = $(if $(filter int8,$(PRECISIONS)),$(study_plan_cal))$(foreach r,$(STUDY_RUNS),$(call study_plan_enc,$(r)))$(foreach m,$(STUDY_WANT_CLIP),$(call \
  study_plan_line,classes-$(m),0,$(STUDY_CLASSES_$(m)),-,gpu,$(STUDY_BIN)/txtencode,$(study_classes_cmd_$(m))))$(if \
  $(filter-out 1,$(STUDY_SHARDS)),$(foreach r,$(STUDY_RUNS),$(call study_plan_merge,$(r))))$(foreach \
  r,$(STUDY_RUNS),$(call study_plan_scores,$(r)))$(call study_plan_line,report,0,$(STUDY_REPORT_DIR)/report.md,\
  $(subst $(study_space),$(study_comma),$(foreach r,$(STUDY_RUNS),scores-$(call study_job,$(r)))),-,\
  $(foreach r,$(STUDY_RUNS),$(STUDY_SCORES_$(r)).mp $(STUDY_ENC_$(r)).mp) $(STUDY_CAL_FILES) $(STUDY_REPORT_PROGS),\
  $(STUDY_REPORT_CMD))$(call study_plan_line,publish,0,$(STUDY_PUBLISHED),report,-,$(STUDY_REPORT_DIR)/report.md,\
  $(STUDY_PUBLISH_CMD))
STUDY_SLURM_RUNS := $(CACHE)/slurm
STUDY_PLAN := $(STUDY_SLURM_RUNS)/plan-$(STUDY_REPORT_KEY).tsv

study-slurm-plan-run:
	@$(shell mkdir -p $(STUDY_SLURM_RUNS))$(file >$(STUDY_PLAN),$(STUDY_PLAN_TEXT))echo $(STUDY_PLAN)

study-slurm-run:
	@$(shell mkdir -p $(STUDY_SLURM_RUNS))$(file >$(STUDY_PLAN),$(STUDY_PLAN_TEXT))
	@run=$$(pipelines/study-slurm submit --plan $(STUDY_PLAN) --runs $(STUDY_SLURM_RUNS) --gpus $(JOB_GPUS) \
	  --log $(STUDY_LOG) --report $(REPORT)/report.md -- $(JOB_OPTS)) && pipelines/study-slurm wait "$$run"
endif

STUDY_LOG_BEFORE := $(shell cat $(STUDY_LOG) 2>/dev/null | wc -l)
study-stages: $(STUDY_PUBLISHED)
	@pipelines/study-summary $(REPORT) $(STUDY_RUNS)$(if $(STUDY_DEMO), && echo "(random weights: make study-demo)")
	@echo "study: $(REPORT)/report.md ($$(($$(cat $(STUDY_LOG) 2>/dev/null | wc -l) - $(STUDY_LOG_BEFORE))) stages ran; log $(STUDY_LOG))"
endif
