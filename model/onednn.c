/* onednn.c - what the two oneDNN backends share (model/onednn.h). */
#include <stdint.h>

#include "onednn.h"

dnnl_status_t onednn_reorder_now(dnnl_engine_t eng, dnnl_stream_t stream, const dnnl_memory_desc_t *smd,
				 const void *src, const dnnl_memory_desc_t *dmd, void *dst, const float *scale,
				 int nscale, int mask)
{
	dnnl_primitive_attr_t attr = NULL;
	dnnl_primitive_desc_t pd = NULL;
	dnnl_primitive_t prim = NULL;
	dnnl_memory_t sm = NULL, dm = NULL;
	dnnl_status_t st = dnnl_primitive_attr_create(&attr);
	if (st == dnnl_success && scale)
		st = dnnl_primitive_attr_set_output_scales(attr, nscale, mask, scale);
	if (st == dnnl_success)
		st = dnnl_reorder_primitive_desc_create(&pd, smd, eng, dmd, eng, attr);
	if (st == dnnl_success)
		st = dnnl_primitive_create(&prim, pd);
	if (st == dnnl_success)
		st = dnnl_memory_create(&sm, smd, eng, (void *)(uintptr_t)src);
	if (st == dnnl_success)
		st = dnnl_memory_create(&dm, dmd, eng, dst);
	if (st == dnnl_success) {
		dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, sm}, {DNNL_ARG_TO, dm}};
		st = dnnl_primitive_execute(prim, stream, 2, args);
	}
	if (st == dnnl_success)
		st = dnnl_stream_wait(stream);
	if (dm)
		dnnl_memory_destroy(dm);
	if (sm)
		dnnl_memory_destroy(sm);
	if (prim)
		dnnl_primitive_destroy(prim);
	if (pd)
		dnnl_primitive_desc_destroy(pd);
	if (attr)
		dnnl_primitive_attr_destroy(attr);
	return st;
}
