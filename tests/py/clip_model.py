"""clip_model.py - OpenAI CLIP RN50 as a PyTorch module, with CLIP's attribute names.

Written from model/net.h and the structure of openai/CLIP clip/model.py, so that
state_dict() keys, shapes and the fp16/fp32 split of convert_weights() match the
published RN50.pt (visual.layer1.0.conv1.weight, visual.attnpool.q_proj.bias,
transformer.resblocks.0.attn.in_proj_weight, ...). The module is scriptable
(torch.jit.script), which is how tests/py/make_checkpoints.py writes a
TorchScript archive of the same kind as RN50.pt.

Use from a test helper:
    sys.path.insert(0, os.path.join(ROOT, "tests/py"))
    import clip_model
    m = clip_model.load("build/fixtures/clip-rn50.pt")      # eager, float32, eval()
    emb = m.encode_image(images)                              # [N,3,224,224] -> [N,1024]
    txt = m.encode_text(tokens)                               # [N,77] int64 -> [N,1024]
load() reads the TorchScript archive's tensors into this eager module and converts them
to float32 (CPU PyTorch has no fp16 matmul); pass dtype=torch.float16 to keep CLIP's mix.
"""
from collections import OrderedDict
import contextlib
import math

import torch
import torch.nn.functional as F
from torch import nn


class Bottleneck(nn.Module):
    """CLIP's anti-aliased bottleneck: all convs stride 1, AvgPool(stride) after the 3x3
    conv's ReLU, downsample = AvgPool(stride) -> 1x1 conv -> BN."""
    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu2 = nn.ReLU(inplace=True)
        self.avgpool = nn.AvgPool2d(stride) if stride > 1 else nn.Identity()
        self.conv3 = nn.Conv2d(planes, planes * self.expansion, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu3 = nn.ReLU(inplace=True)
        self.downsample = None
        self.stride = stride
        if stride > 1 or inplanes != planes * Bottleneck.expansion:
            # "-1" is CLIP's name for the pool, so the conv/BN keys are downsample.0/.1
            self.downsample = nn.Sequential(OrderedDict([
                ("-1", nn.AvgPool2d(stride)),
                ("0", nn.Conv2d(inplanes, planes * self.expansion, 1, stride=1, bias=False)),
                ("1", nn.BatchNorm2d(planes * self.expansion)),
            ]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.relu2(self.bn2(self.conv2(out)))
        out = self.avgpool(out)
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out = out + identity
        return self.relu3(out)


class AttentionPool2d(nn.Module):
    """QKV attention pool over the 7x7 grid plus its mean token; only the mean token's
    query is kept (x[0]). Same computation as F.multi_head_attention_forward with
    separate q/k/v weights, written out as model/net.h describes."""

    def __init__(self, spacial_dim: int, embed_dim: int, num_heads: int, output_dim: int):
        super().__init__()
        self.positional_embedding = nn.Parameter(
            torch.randn(spacial_dim ** 2 + 1, embed_dim) / embed_dim ** 0.5)
        self.k_proj = nn.Linear(embed_dim, embed_dim)
        self.q_proj = nn.Linear(embed_dim, embed_dim)
        self.v_proj = nn.Linear(embed_dim, embed_dim)
        self.c_proj = nn.Linear(embed_dim, output_dim)
        self.num_heads = num_heads

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        x = x.reshape(n, c, h * w).permute(0, 2, 1)                  # [N, HW, C]
        x = torch.cat([x.mean(dim=1, keepdim=True), x], dim=1)       # [N, HW+1, C]
        x = x + self.positional_embedding[None, :, :].to(x.dtype)
        hd = c // self.num_heads
        q = F.linear(x[:, :1], self.q_proj.weight, self.q_proj.bias)  # [N, 1, C]
        k = F.linear(x, self.k_proj.weight, self.k_proj.bias)         # [N, L, C]
        v = F.linear(x, self.v_proj.weight, self.v_proj.bias)
        q = q.reshape(n, 1, self.num_heads, hd).permute(0, 2, 1, 3)   # [N, H, 1, hd]
        k = k.reshape(n, -1, self.num_heads, hd).permute(0, 2, 1, 3)  # [N, H, L, hd]
        v = v.reshape(n, -1, self.num_heads, hd).permute(0, 2, 1, 3)
        a = torch.softmax(torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(hd), dim=-1)
        o = torch.matmul(a, v).permute(0, 2, 1, 3).reshape(n, c)     # heads concatenated
        return self.c_proj(o)


class ModifiedResNet(nn.Module):
    def __init__(self, layers=(3, 4, 6, 3), output_dim: int = 1024, heads: int = 32,
                 input_resolution: int = 224, width: int = 64):
        super().__init__()
        self.output_dim = output_dim
        self.input_resolution = input_resolution
        self.conv1 = nn.Conv2d(3, width // 2, kernel_size=3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width // 2)
        self.conv2 = nn.Conv2d(width // 2, width // 2, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width // 2)
        self.conv3 = nn.Conv2d(width // 2, width, kernel_size=3, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(width)
        self.avgpool = nn.AvgPool2d(2)
        self.relu = nn.ReLU(inplace=True)
        self._inplanes = width
        self.layer1 = self._make_layer(width, layers[0])
        self.layer2 = self._make_layer(width * 2, layers[1], stride=2)
        self.layer3 = self._make_layer(width * 4, layers[2], stride=2)
        self.layer4 = self._make_layer(width * 8, layers[3], stride=2)
        self.attnpool = AttentionPool2d(input_resolution // 32, width * 32, heads, output_dim)

    def _make_layer(self, planes: int, blocks: int, stride: int = 1) -> nn.Sequential:
        layers = [Bottleneck(self._inplanes, planes, stride)]
        self._inplanes = planes * Bottleneck.expansion
        for _ in range(1, blocks):
            layers.append(Bottleneck(self._inplanes, planes))
        return nn.Sequential(*layers)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Stem and the four stages: [N,3,224,224] -> [N,2048,7,7]."""
        x = x.to(self.conv1.weight.dtype)
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.relu(self.bn2(self.conv2(x)))
        x = self.relu(self.bn3(self.conv3(x)))
        x = self.avgpool(x)
        x = self.layer1(x)
        x = self.layer2(x)
        x = self.layer3(x)
        return self.layer4(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.attnpool(self.features(x))


class LayerNorm(nn.LayerNorm):
    """LayerNorm computed in float32 whatever the input dtype (CLIP's fp16 handling)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.layer_norm(x.float(), self.normalized_shape, self.weight.float(),
                         self.bias.float(), self.eps)
        return y.to(x.dtype)


class QuickGELU(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


class ResidualAttentionBlock(nn.Module):
    """act: "quickgelu" (OpenAI's CLIP, open_clip's -quickgelu models) or "gelu"
    (open_clip's other models: nn.GELU())."""

    def __init__(self, d_model: int, n_head: int, attn_mask: torch.Tensor, act: str = "quickgelu"):
        super().__init__()
        self.attn = nn.MultiheadAttention(d_model, n_head)
        self.ln_1 = LayerNorm(d_model)
        self.mlp = nn.Sequential(OrderedDict([
            ("c_fc", nn.Linear(d_model, d_model * 4)),
            ("gelu", QuickGELU() if act == "quickgelu" else nn.GELU()),
            ("c_proj", nn.Linear(d_model * 4, d_model)),
        ]))
        self.ln_2 = LayerNorm(d_model)
        # a plain tensor attribute, as in CLIP: saved in a TorchScript archive's data.pkl
        # (as <block>.attn_mask) but not part of state_dict()
        self.attn_mask = attn_mask

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mask = self.attn_mask.to(dtype=x.dtype, device=x.device)
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, need_weights=False, attn_mask=mask)[0]
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    def __init__(self, width: int, layers: int, heads: int, attn_mask: torch.Tensor, act: str = "quickgelu"):
        super().__init__()
        self.width = width
        self.layers = layers
        self.resblocks = nn.Sequential(
            *[ResidualAttentionBlock(width, heads, attn_mask, act) for _ in range(layers)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.resblocks(x)


class CLIP(nn.Module):
    """CLIP RN50 by default: embed 1024, 224x224 input, vision layers (3,4,6,3) width 64
    (32 heads), text context 77, vocab 49408, width 512, 8 heads, 12 layers; the other
    sizes as build_model() reads them from a state dict (sizes_of)."""

    def __init__(self, embed_dim: int = 1024, image_resolution: int = 224,
                 vision_layers=(3, 4, 6, 3), vision_width: int = 64,
                 context_length: int = 77, vocab_size: int = 49408,
                 transformer_width: int = 512, transformer_heads: int = 8,
                 transformer_layers: int = 12, act: str = "quickgelu"):
        super().__init__()
        self.visual = ModifiedResNet(layers=vision_layers, output_dim=embed_dim,
                                     heads=vision_width * 32 // 64,
                                     input_resolution=image_resolution, width=vision_width)
        mask = torch.full((context_length, context_length), float("-inf")).triu_(1)
        self.transformer = Transformer(transformer_width, transformer_layers,
                                       transformer_heads, mask, act)
        self.token_embedding = nn.Embedding(vocab_size, transformer_width)
        self.positional_embedding = nn.Parameter(torch.empty(context_length, transformer_width))
        self.ln_final = LayerNorm(transformer_width)
        self.text_projection = nn.Parameter(torch.empty(transformer_width, embed_dim))
        self.logit_scale = nn.Parameter(torch.ones([]) * math.log(100.0))
        # The published RN50.pt carries these three as int64 scalars in its state dict
        # (CLIP's build_model deletes them); keep them so readers meet them too.
        self.register_buffer("input_resolution", torch.tensor(image_resolution))
        self.register_buffer("context_length", torch.tensor(context_length))
        self.register_buffer("vocab_size", torch.tensor(vocab_size))
        self._init_text()

    def _init_text(self):
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        nn.init.normal_(self.positional_embedding, std=0.01)
        width, layers = self.transformer.width, self.transformer.layers
        proj_std = width ** -0.5 * (2 * layers) ** -0.5
        for block in self.transformer.resblocks:
            nn.init.normal_(block.attn.in_proj_weight, std=width ** -0.5)
            nn.init.normal_(block.attn.out_proj.weight, std=proj_std)
            nn.init.normal_(block.mlp.c_fc.weight, std=(2 * width) ** -0.5)
            nn.init.normal_(block.mlp.c_proj.weight, std=proj_std)
        nn.init.normal_(self.text_projection, std=width ** -0.5)

    @torch.jit.export
    def encode_image(self, image: torch.Tensor) -> torch.Tensor:
        """[N,3,224,224] normalized -> [N,1024], not normalized."""
        return self.visual(image.to(self.visual.conv1.weight.dtype))

    @torch.jit.export
    def encode_text(self, text: torch.Tensor) -> torch.Tensor:
        """[N,77] int64 tokens (end-of-text = highest id in each row) -> [N,1024]."""
        dtype = self.visual.conv1.weight.dtype
        x = self.token_embedding(text).to(dtype)
        x = x + self.positional_embedding.to(dtype)
        x = x.permute(1, 0, 2)          # NLD -> LND
        x = self.transformer(x)
        x = x.permute(1, 0, 2)
        x = self.ln_final(x).to(dtype)
        x = x[torch.arange(x.shape[0]), text.argmax(dim=-1)]
        return x @ self.text_projection.to(dtype)

    def forward(self, image: torch.Tensor, text: torch.Tensor):
        i = self.encode_image(image)
        t = self.encode_text(text)
        i = i / i.norm(p=2, dim=-1, keepdim=True)
        t = t / t.norm(p=2, dim=-1, keepdim=True)
        logits = self.logit_scale.exp() * i @ t.t()
        return logits, logits.t()


def convert_weights(model: nn.Module, dtype=torch.float16):
    """CLIP's fp16 split: conv/linear weights and biases (attention out_proj is a Linear),
    MultiheadAttention in/q/k/v projections and biases, text_projection and proj go to
    fp16; BatchNorm, LayerNorm, embeddings, positional embeddings, logit_scale and the
    int64 buffers stay as they are. dtype: the 16-bit type (torch.bfloat16 gives
    the same split in bfloat16)."""
    def to_half(layer):
        if isinstance(layer, (nn.Conv1d, nn.Conv2d, nn.Linear)):
            layer.weight.data = layer.weight.data.to(dtype)
            if layer.bias is not None:
                layer.bias.data = layer.bias.data.to(dtype)
        if isinstance(layer, nn.MultiheadAttention):
            for attr in ["in_proj_weight", "q_proj_weight", "k_proj_weight", "v_proj_weight",
                         "in_proj_bias", "bias_k", "bias_v"]:
                t = getattr(layer, attr)
                if t is not None:
                    t.data = t.data.to(dtype)
        for name in ["text_projection", "proj"]:
            t = getattr(layer, name, None)
            if isinstance(t, torch.Tensor):
                t.data = t.data.to(dtype)
    model.apply(to_half)


def sizes_of(sd) -> dict:
    """CLIP's constructor arguments from a state dict, as openai/CLIP's build_model
    infers them (ModifiedResNet image tower)."""
    def count(prefix):
        return len({k[len(prefix):].split(".")[0] for k in sd if k.startswith(prefix)})
    vision_layers = tuple(count(f"visual.layer{b}.") for b in (1, 2, 3, 4))
    output_width = round((sd["visual.attnpool.positional_embedding"].shape[0] - 1) ** 0.5)
    width = sd["ln_final.weight"].shape[0]
    return dict(embed_dim=sd["text_projection"].shape[1], image_resolution=output_width * 32,
                vision_layers=vision_layers, vision_width=sd["visual.layer1.0.conv1.weight"].shape[0],
                context_length=sd["positional_embedding"].shape[0],
                vocab_size=sd["token_embedding.weight"].shape[0], transformer_width=width,
                transformer_heads=width // 64, transformer_layers=count("transformer.resblocks."))


def read_safetensors(path: str) -> dict:
    """A safetensors file's tensors (the format by hand: torch 1.13 has no reader)."""
    import json
    import struct
    dtypes = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64,
              "I64": torch.int64, "I32": torch.int32}
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        t = torch.frombuffer(bytearray(data[a:b]), dtype=dtypes[v["dtype"]]) if b > a else \
            torch.empty(0, dtype=dtypes[v["dtype"]])
        out[k] = t.reshape(v["shape"])
    return out


def state_dict_of(path: str) -> dict:
    """CLIP's state dict from any published form: OpenAI's TorchScript archive, or
    open_clip's files read as open_clip's load_checkpoint reads them (a torch.save'd
    dict, its "state_dict" entry when there is one, "module." taken off; safetensors)
    with the custom-text layout's text.* keys put back at the top."""
    with open(path, "rb") as f:
        head = f.read(9)
    if head[8:9] == b"{":
        sd = read_safetensors(path)
    else:
        try:
            sd = torch.jit.load(path, map_location="cpu").state_dict()
        except RuntimeError:
            sd = torch.load(path, map_location="cpu")
    if isinstance(sd, dict) and "state_dict" in sd:
        sd = sd["state_dict"]
    if next(iter(sd)).startswith("module."):
        sd = {k[len("module."):]: v for k, v in sd.items()}
    if "text.token_embedding.weight" in sd:
        sd = {k[len("text."):] if k.startswith("text.") else k: v for k, v in sd.items()}
    return sd


@contextlib.contextmanager
def _no_init():
    """Modules built without their random initialisation (seconds for the wide
    towers), for load(), which then overwrites every parameter."""
    names = ("normal_", "uniform_", "kaiming_uniform_", "kaiming_normal_", "xavier_uniform_",
             "constant_", "ones_", "zeros_")
    saved = {n: getattr(nn.init, n) for n in names}
    for n in names:
        setattr(nn.init, n, lambda t, *a, **k: t)
    try:
        yield
    finally:
        for n, f in saved.items():
            setattr(nn.init, n, f)


def load(path: str, dtype=torch.float32, act: str = "quickgelu") -> CLIP:
    """Eager CLIP (eval mode) from a TorchScript archive or a state-dict file, sized as
    the file's tensors say; act is the text tower's activation ("quickgelu" or
    "gelu": no file says it). dtype float32 converts every floating tensor; float16
    keeps the file's own mix; bfloat16 gives that mix in bfloat16."""
    sd = state_dict_of(path)
    with _no_init():
        m = CLIP(**sizes_of(sd), act=act)
    if dtype in (torch.float16, torch.bfloat16):
        convert_weights(m, dtype)
    # open_clip's state dicts lack OpenAI's three int64 buffers
    missing, unexpected = m.load_state_dict(sd, strict=False)
    assert not unexpected and set(missing) <= {"input_resolution", "context_length", "vocab_size"}, \
        (missing, unexpected)
    if dtype == torch.float32:
        m.float()
    return m.eval()
