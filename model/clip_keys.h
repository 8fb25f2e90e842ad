/* clip_keys.h - CLIP checkpoints of either source under one set of names,
 * and the CLIP ResNet models by name.
 *
 * Canonical names are those of OpenAI's TorchScript archives (RN50.pt, ...),
 * as openai/CLIP clip/model.py names its modules: visual.* (the image tower),
 * transformer.resblocks.N.*, token_embedding.weight, positional_embedding,
 * ln_final.*, text_projection, logit_scale. The loaders (model/net.c,
 * model/text_encoder.c) look tensors up by them. open_clip's files hold the
 * same tensors under other names:
 *   - a training checkpoint, torch.save({"epoch", "name", "state_dict": {...},
 *     "optimizer": ...}): common/ckpt names the tensors state_dict.<key>;
 *   - DistributedDataParallel's "module." before every key;
 *   - the custom-text layout (open_clip's CustomTextCLIP and
 *     convert_to_custom_text_state_dict): the text tower under text.*;
 *   - a bare state dict in .pt/.bin (torch.save) or safetensors
 *     (open_clip_model.safetensors), already canonical.
 * clip_keys_canonical() renames a file's tensors in place to the canonical
 * names, whichever of these it is.
 *
 * The models (clip_model_find): OpenAI's five ResNets, by this project's
 * names (clip-rn50, clip-rn101, clip-rn50x4, clip-rn50x16, clip-rn50x64) or
 * open_clip's (RN50, RN50-quickgelu, RN101, RN101-quickgelu, RN50x4,
 * RN50x16, RN50x64, each optionally /TAG, the published weights: openai,
 * yfcc15m, cc12m). Text tower sizes per family (width, embedding; 12
 * layers, context 77, vocabulary 49408 for all): RN50 512, 1024; RN101 512,
 * 512; RN50x4 640, 640; RN50x16 768, 768; RN50x64 1024, 1024.
 *
 * The text tower's activation is not in any file: QuickGELU for OpenAI's
 * models and for every published open_clip ResNet weight (open_clip trained
 * them with QuickGELU: rn50-quickgelu-yfcc15m-455df137.pt, ...), and for
 * open_clip's -quickgelu configs; plain GELU for open_clip's other configs
 * (RN50, RN101, RN50x4, ... without a tag), as open_clip builds them.
 */
#ifndef MODEL_CLIP_KEYS_H
#define MODEL_CLIP_KEYS_H

#include <stddef.h>

#include "ckpt/ckpt.h"
#include "model/text_encoder.h"

typedef struct {
	char root[256];  /* the prefix taken off, e.g. "state_dict.module.", "" when none */
	int custom_text; /* the text tower was under text.* */
	int openai;      /* OpenAI's own file: a TorchScript archive, or a state dict
			  * holding its input_resolution, context_length and vocab_size
			  * buffers (which build_model and open_clip drop) */
	size_t renamed;  /* tensors given a new name */
} clip_keys_t;

/* Rename c's CLIP tensors to the canonical names (above). The root is the
 * prefix before logit_scale, visual.conv1.weight or token_embedding.weight
 * (text.token_embedding.weight); tensors outside it (an optimizer's state)
 * keep their names. -1 with one line in err, c unchanged, when there is no
 * CLIP tensor, when they sit under more than one root, or when a new name
 * would clash with another tensor's. Call once, right after ckpt_open. */
int clip_keys_canonical(ckpt_t *c, clip_keys_t *info, char *err, size_t errcap);

typedef struct {
	char name[64];       /* as the records carry it: "clip-rn50", "RN50-quickgelu/yfcc15m", "RN50" */
	const char *family;  /* "RN50", "RN101", "RN50x4", "RN50x16", "RN50x64" */
	text_act_t act;
	const char *file;    /* the published weights' file name in the weights folder, NULL without a tag */
	int text_width, embed; /* the family's text tower */
} clip_model_t;

/* A --model name: 0 and *m, or -1 when it is none of the names above. */
int clip_model_find(const char *name, clip_model_t *m);

/* The model a checkpoint (canonical names) holds, for --model auto: a
 * published file known by its sha256 (hex, 64 digits) gets its own name; an
 * OpenAI file (info->openai) the family its tower shapes give (clip-rn101
 * ...). -1 with one line in err saying what was found and why that is not
 * enough (no image ResNet, shapes of no family, a state dict that does not
 * say its activation: then --model must say it). */
int clip_model_detect(const ckpt_t *c, const clip_keys_t *info, const char *sha256, clip_model_t *m, char *err,
		      size_t errcap);

/* Whether the text tower s is the family's: 0, or -1 with err. */
int clip_model_check_text(const clip_model_t *m, const text_shape_t *s, char *err, size_t errcap);

#endif
