/* models.c - the published ResNets this project knows by name: their
 * architecture (as net_load reads it from a checkpoint), weights files with
 * URLs and hashes (pipelines/fetch-weights holds the same list for
 * `make weights`) and the preprocessing preset each was evaluated with.
 *
 * torchvision: URLs, resize sizes and top-1 from torchvision's weights
 * metadata (V1: resize 256, V2: resize 232, both bilinear, crop 224; the
 * 64x4d ResNeXt has only V1 weights, trained with the V2 recipe: resize 232).
 * The sha256 is the 8-hex prefix in the file name, checked as torch.hub does.
 * CLIP: the TorchScript archives' URLs carry their full sha256; the input
 * resolution (preset clip-N: bicubic resize N, crop N) is what the
 * attention pool's positional embedding implies.
 */
#include <stdio.h>
#include <string.h>

#include "net.h"

#define TV(bn, d0, d1, d2, d3, w, g) {NET_TORCHVISION, bn, {d0, d1, d2, d3}, w, g, 224, 1000, 0}
#define CL(d0, d1, d2, d3, w, in, out) {NET_CLIP, 1, {d0, d1, d2, d3}, w, 1, in, out, (w) * 32 / 64}
#define TVW(file, hash, tag, preset, acc) \
	{file, "https://download.pytorch.org/models/" file, hash, tag, preset, acc}
#define CLW(hash, file, preset) \
	{file, "https://openaipublic.azureedge.net/clip/models/" hash "/" file, hash, "openai", preset, 0}

const net_model_t net_models[] = {
	{"resnet18", TV(0, 2, 2, 2, 2, 64, 1), {TVW("resnet18-f37072fd.pth", "f37072fd", "IMAGENET1K_V1", "imagenet", 69.758)}},
	{"resnet34", TV(0, 3, 4, 6, 3, 64, 1), {TVW("resnet34-b627a593.pth", "b627a593", "IMAGENET1K_V1", "imagenet", 73.314)}},
	{"resnet50", TV(1, 3, 4, 6, 3, 64, 1),
	 {TVW("resnet50-0676ba61.pth", "0676ba61", "IMAGENET1K_V1", "imagenet", 76.13),
	  TVW("resnet50-11ad3fa6.pth", "11ad3fa62ca79e40addfd354a8ec4b7c75143b3038b8d2a807fbc68deab379ca", "IMAGENET1K_V2",
	      "imagenet-v2", 80.858)}},
	{"resnet101", TV(1, 3, 4, 23, 3, 64, 1),
	 {TVW("resnet101-63fe2227.pth", "63fe2227", "IMAGENET1K_V1", "imagenet", 77.374),
	  TVW("resnet101-cd907fc2.pth", "cd907fc2", "IMAGENET1K_V2", "imagenet-v2", 81.886)}},
	{"resnet152", TV(1, 3, 8, 36, 3, 64, 1),
	 {TVW("resnet152-394f9c45.pth", "394f9c45", "IMAGENET1K_V1", "imagenet", 78.312),
	  TVW("resnet152-f82ba261.pth", "f82ba261", "IMAGENET1K_V2", "imagenet-v2", 82.284)}},
	{"wide_resnet50_2", TV(1, 3, 4, 6, 3, 128, 1),
	 {TVW("wide_resnet50_2-95faca4d.pth", "95faca4d", "IMAGENET1K_V1", "imagenet", 78.468),
	  TVW("wide_resnet50_2-9ba9bcbe.pth", "9ba9bcbe", "IMAGENET1K_V2", "imagenet-v2", 81.602)}},
	{"wide_resnet101_2", TV(1, 3, 4, 23, 3, 128, 1),
	 {TVW("wide_resnet101_2-32ee1156.pth", "32ee1156", "IMAGENET1K_V1", "imagenet", 78.848),
	  TVW("wide_resnet101_2-d733dc28.pth", "d733dc28", "IMAGENET1K_V2", "imagenet-v2", 82.51)}},
	{"resnext50_32x4d", TV(1, 3, 4, 6, 3, 128, 32),
	 {TVW("resnext50_32x4d-7cdf4587.pth", "7cdf4587", "IMAGENET1K_V1", "imagenet", 77.618),
	  TVW("resnext50_32x4d-1a0047aa.pth", "1a0047aa", "IMAGENET1K_V2", "imagenet-v2", 81.198)}},
	{"resnext101_32x8d", TV(1, 3, 4, 23, 3, 256, 32),
	 {TVW("resnext101_32x8d-8ba56ff5.pth", "8ba56ff5", "IMAGENET1K_V1", "imagenet", 79.312),
	  TVW("resnext101_32x8d-110c445d.pth", "110c445d", "IMAGENET1K_V2", "imagenet-v2", 82.834)}},
	{"resnext101_64x4d", TV(1, 3, 4, 23, 3, 256, 64),
	 {TVW("resnext101_64x4d-173b62eb.pth", "173b62eb", "IMAGENET1K_V1", "imagenet-v2", 83.246)}},
	{"clip-rn50", CL(3, 4, 6, 3, 64, 224, 1024),
	 {CLW("afeb0e10f9e5a86da6080e35cf09123aca3b358a0c3e3b6c78a7b63bc04b6762", "RN50.pt", "clip")}},
	{"clip-rn101", CL(3, 4, 23, 3, 64, 224, 512),
	 {CLW("8fa8567bab74a42d41c5915025a8e4538c3bdbe8804a470a72f30b0d94fab599", "RN101.pt", "clip")}},
	{"clip-rn50x4", CL(4, 6, 10, 6, 80, 288, 640),
	 {CLW("7e526bd135e493cef0776de27d5f42653e6b4c8bf9e0f653bb11773263205fdd", "RN50x4.pt", "clip-288")}},
	{"clip-rn50x16", CL(6, 8, 18, 8, 96, 384, 768),
	 {CLW("52378b407f34354e150460fe41077663dd5b39c54cd0bfd2b27167a4a06ec9aa", "RN50x16.pt", "clip-384")}},
	{"clip-rn50x64", CL(3, 15, 36, 10, 128, 448, 1024),
	 {CLW("be1cfb55d75a9666199fb2206c106743da0f6468c9d327f3e0d0a543a9919d9c", "RN50x64.pt", "clip-448")}},
	{NULL, {0}, {{0}}},
};

const net_model_t *net_model_find(const char *name)
{
	for (const net_model_t *m = net_models; m->name; m++)
		if (strcmp(m->name, name) == 0)
			return m;
	return NULL;
}

const net_model_t *net_model_of(const net_arch_t *a)
{
	for (const net_model_t *m = net_models; m->name; m++) {
		const net_arch_t *b = &m->arch;
		if (a->family == b->family && a->bottleneck == b->bottleneck && !memcmp(a->depths, b->depths, sizeof a->depths) &&
		    a->width == b->width && a->groups == b->groups && a->input == b->input && a->out_dim == b->out_dim &&
		    a->heads == b->heads)
			return m;
	}
	return NULL;
}

const char *net_model_names(void)
{
	static char buf[512];
	if (!buf[0])
		for (const net_model_t *m = net_models; m->name; m++) {
			size_t l = strlen(buf);
			snprintf(buf + l, sizeof buf - l, "%s%s", l ? ", " : "", m->name);
		}
	return buf;
}

void net_arch_name(const net_arch_t *a, char *buf, size_t cap)
{
	const net_model_t *m = net_model_of(a);
	if (m) {
		snprintf(buf, cap, "%s", m->name);
		return;
	}
	if (a->family == NET_CLIP)
		snprintf(buf, cap, "clip-resnet(%d-%d-%d-%d,w%d,%dpx,out%d)", a->depths[0], a->depths[1], a->depths[2],
			 a->depths[3], a->width, a->input, a->out_dim);
	else
		snprintf(buf, cap, "resnet(%s,%d-%d-%d-%d,w%d,g%d,out%d)", a->bottleneck ? "bottleneck" : "basic",
			 a->depths[0], a->depths[1], a->depths[2], a->depths[3], a->width, a->groups, a->out_dim);
}

static int str_is(const char *s, size_t len, const char *lit)
{
	return strlen(lit) == len && memcmp(s, lit, len) == 0;
}

int net_family_of_preset(const char *preset, size_t len, net_family_t *f)
{
	if (len >= 4 && memcmp(preset, "clip", 4) == 0)
		*f = NET_CLIP;
	else if (len >= 8 && memcmp(preset, "imagenet", 8) == 0)
		*f = NET_TORCHVISION;
	else
		return -1;
	return 0;
}

const char *net_default_model_for_preset(const char *preset, size_t len)
{
	if (str_is(preset, len, "clip"))
		return "clip-rn50";
	if (str_is(preset, len, "imagenet") || str_is(preset, len, "imagenet-v2"))
		return "resnet50";
	for (const net_model_t *m = net_models; m->name; m++) /* clip-288 -> clip-rn50x4 */
		if (m->arch.family == NET_CLIP && str_is(preset, len, m->weights[0].preset))
			return m->name;
	return NULL;
}

int net_preset_matches(const net_t *net, const char *preset, size_t len)
{
	net_family_t f;
	return net_family_of_preset(preset, len, &f) == 0 && f == net->arch.family;
}
