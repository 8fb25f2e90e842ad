/* onednn.h - what the two oneDNN backends share (model/cpu_dnnl.c, the image
 * encoders; model/text_encoder.c, CLIP's text tower). */
#ifndef MODEL_ONEDNN_H
#define MODEL_ONEDNN_H

#include <oneapi/dnnl/dnnl.h>

/* Reorder src (smd) into dst (dmd) now and wait: weights preparation, once
 * per plan. scale (NULL: none): dst = scale[i] * src over the dimensions in
 * mask (nscale values), rounded to nearest even and saturated where dst is
 * an integer type. Everything it creates is destroyed on every path. */
dnnl_status_t onednn_reorder_now(dnnl_engine_t eng, dnnl_stream_t stream, const dnnl_memory_desc_t *smd,
				 const void *src, const dnnl_memory_desc_t *dmd, void *dst, const float *scale,
				 int nscale, int mask);

#endif
