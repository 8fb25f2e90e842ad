/* gpu_encoder.h - rnencode's CUDA + cuDNN backend, enc_backend_cuda (C linkage).
 *
 * It implements net.h's backend interface, so `rnencode --device cuda`
 * changes only where the numbers are computed. Only rnencode links it, and
 * only when the build found nvcc (the Makefile then defines HAVE_CUDA).
 *
 * What it does per batch (gpu_encoder.cu):
 *   host  input() buffer (pinned) --copy stream--> device input slot
 *   compute stream: uint8 HWC -> normalized NHWC (FP32, FP16 or BF16) on the GPU,
 *   then the network as one CUDA graph: cuDNN convolutions with BatchNorm,
 *   bias, residual add and ReLU fused; pooling kernels; the head (fc, or
 *   CLIP's attention pool with cuBLAS GEMMs); then the outputs to pinned host
 *   memory. Up to `depth` (3) batches are in flight, so the copy of batch i+1
 *   overlaps the compute of batch i.
 * Precision: FP32 is true FP32 (no TF32) unless the config asks for TF32;
 * FP16 keeps weights and activations in half precision and accumulates in
 * FP32 on the tensor cores (weights were BN-folded in FP32 before rounding);
 * BF16 the same in bfloat16 (FP32's range, 8 bits of precision; compute
 * capability 8.0 or later). The outputs are float32 in every mode.
 *
 * Statistics (enc_stats_t): per-batch time is the compute stream's time from
 * the start of the input conversion to the outputs landing in host memory
 * (CUDA events; the host->device copy overlaps the previous batch and is not
 * in it); the first batch of each batch size runs op by op, is the warm-up
 * and is not timed. Batch figures count full batches, per-image figures every
 * timed batch (common/util/util.h, shared with the CPU backend). peak_bytes is the most device memory the backend held at
 * once while encoding (weights, activation arena, workspaces, I/O buffers),
 * not counting the CUDA context, the library handles, or the temporary
 * workspace of the start-up algorithm search (which the memory trace shows).
 *
 * Memory trace (config mem_trace = FILE): a TSV file, one line per event:
 *   time_s  bytes_in_use  tag
 * time_s is seconds since the encoder was created. Tags "alloc NAME" and
 * "free NAME" are real device allocations (bytes_in_use = the backend's
 * device bytes after the event). Tags "op NAME" follow one batch per batch
 * size through the network (its warm-up batch, timed op by op with events):
 * bytes_in_use there counts the activations live during that op instead of
 * the whole arena, which is what the planned arena's size is made of.
 */
#ifndef GPU_GPU_ENCODER_H
#define GPU_GPU_ENCODER_H

#ifdef __cplusplus
extern "C" {
#endif

#include "model/net.h"

extern const enc_backend_t enc_backend_cuda;

#ifdef __cplusplus
}
#endif

#endif
