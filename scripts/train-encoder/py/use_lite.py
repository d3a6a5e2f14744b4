"""Universal Sentence Encoder lite in PyTorch, op for op as classifiers/encoder/use-lite-graph.ts builds it.

Parameters keep their TF.js names (see TF_NAMES) so fine-tuned weights can be written back in the TF layout
and turned into ONNX by the same TypeScript graph builder the gateway uses today.
"""
import json
import math

import numpy as np
import torch
from torch import nn

ENC = "module_apply_default/Encoder_en/KonaTransformer/Encode/"
VAR = "module/Encoder_en/KonaTransformer/Encode/"
STACK = ENC + "TransformerStack/"


def layer_names(l):
    tl, ts = f"{ENC}Layer_{l}/TransformerLayer/", f"{STACK}Layer_{l}/TransformerLayer/"
    return {
        f"l{l}.ln_scale": tl + "layer_prepostprocess/layer_norm/layer_norm_scale/ConcatPartitions/concat",
        f"l{l}.ln_bias": tl + "layer_prepostprocess/layer_norm/layer_norm_bias/ConcatPartitions/concat",
        f"l{l}.qkv_w": f"{VAR}Layer_{l}/TransformerLayer/MultiheadAttention/qkv_transform_single/kernel/part_0",
        f"l{l}.qkv_b": tl + "MultiheadAttention/qkv_transform_single/bias/ConcatPartitions/concat",
        f"l{l}.out_w": f"{VAR}Layer_{l}/TransformerLayer/MultiheadAttention/output_transform_single/kernel/part_0",
        f"l{l}.out_b": tl + "MultiheadAttention/output_transform_single/bias/ConcatPartitions/concat",
        f"l{l}.ffn_ln_scale": tl + "FFN/layer_prepostprocess/layer_norm/layer_norm_scale/ConcatPartitions/concat",
        f"l{l}.ffn_ln_bias": tl + "FFN/layer_prepostprocess/layer_norm/layer_norm_bias/ConcatPartitions/concat",
        f"l{l}.conv1_w": ts + "FFN/conv1/Tensordot/Reshape_1",
        f"l{l}.conv1_b": tl + "FFN/conv1/bias/ConcatPartitions/concat",
        f"l{l}.conv2_w": ts + "FFN/conv2/Tensordot/Reshape_1",
        f"l{l}.conv2_b": tl + "FFN/conv2/bias/ConcatPartitions/concat",
    }


TF_NAMES = {
    "embeddings": "module/Embeddings_en",
    "res_w": ENC + "Layer_0/TransformerLayer/dense/kernel/ConcatPartitions/concat",
    "res_b": ENC + "Layer_0/TransformerLayer/dense/bias/ConcatPartitions/concat",
    "tanh_w": "module/Encoder_en/hidden_layers/tanh_layer_0/weights",
    "tanh_b": "module/Encoder_en/hidden_layers/tanh_layer_0/bias",
    **layer_names(0),
    **layer_names(1),
}
CONSTANTS = {
    "timescales": STACK + "Layer_0/AddTimingSignal/TimingSignal/ExpandDims_1",
    "q_scale0": STACK + "Layer_0/TransformerLayer/MultiheadAttention/mul/y",
    "q_scale1": STACK + "Layer_1/TransformerLayer/MultiheadAttention/mul/y",
    "ln_eps": STACK + "Layer_1/TransformerLayer/FFN/layer_prepostprocess/layer_norm/Cast/x",
    "attn_bias": STACK
    + "Layer_1/TransformerLayer/MultiheadAttention/DotProductAttention/attention_bias_ignore_padding/mul/y",
    "l2_eps": "module_apply_default/Encoder_en/hidden_layers/l2_normalize/Maximum/y",
    "heads": STACK + "Layer_1/TransformerLayer/MultiheadAttention/split_heads/split_last_dimension/Reshape/shape/2",
}


def load_tf_weights(index_path, bin_path):
    """The dump's weights: {TF name: numpy array}."""
    raw = open(bin_path, "rb").read()
    out = {}
    for w in json.load(open(index_path)):
        n = math.prod(w["shape"]) if w["shape"] else 1
        dtype = np.float32 if w["dtype"] == "float32" else np.int32
        out[w["name"]] = np.frombuffer(raw, dtype=dtype, count=n, offset=w["offset"]).reshape(w["shape"])
    return out


class UseLite(nn.Module):
    def __init__(self, tf):
        super().__init__()
        self.p = nn.ParameterDict(
            {k.replace(".", "_"): nn.Parameter(torch.tensor(np.array(tf[v], dtype=np.float32))) for k, v in TF_NAMES.items()}
        )
        c = {k: float(np.array(tf[v]).reshape(-1)[0]) for k, v in CONSTANTS.items() if k != "timescales"}
        self.heads = int(c["heads"])
        self.q_scale = (c["q_scale0"], c["q_scale1"])
        self.ln_eps, self.attn_bias, self.l2_eps = c["ln_eps"], c["attn_bias"], c["l2_eps"]
        self.register_buffer("timescales", torch.tensor(np.array(tf[CONSTANTS["timescales"]], dtype=np.float32)))

    def w(self, key):
        return self.p[key.replace(".", "_")]

    def ln(self, x, l, ffn=False):
        pre = f"l{l}.ffn_ln_" if ffn else f"l{l}.ln_"
        return nn.functional.layer_norm(x, x.shape[-1:], self.w(pre + "scale"), self.w(pre + "bias"), self.ln_eps)

    def attention(self, x, l, bias4):
        qkv_w = self.w(f"l{l}.qkv_w")
        qkv_w = qkv_w.reshape(qkv_w.shape[-2], qkv_w.shape[-1])
        d_att = qkv_w.shape[1] // 3
        qkv = x @ qkv_w + self.w(f"l{l}.qkv_b")
        q, k, v = qkv.split(d_att, dim=-1)
        b, n = x.shape[0], x.shape[1]
        depth = d_att // self.heads
        heads = lambda t: t.reshape(b, n, self.heads, depth).transpose(1, 2)
        logits = (heads(q) * self.q_scale[l]) @ heads(k).transpose(-1, -2) + bias4
        ctx = torch.softmax(logits, dim=-1) @ heads(v)
        ctx = ctx.transpose(1, 2).reshape(b, n, d_att)
        out_w = self.w(f"l{l}.out_w")
        return ctx @ out_w.reshape(out_w.shape[-2], out_w.shape[-1]) + self.w(f"l{l}.out_b")

    def ffn(self, x, l, mask3):
        h = torch.relu(self.ln(x, l, ffn=True) @ self.w(f"l{l}.conv1_w") + self.w(f"l{l}.conv1_b"))
        return x + (h @ self.w(f"l{l}.conv2_w") + self.w(f"l{l}.conv2_b")) * mask3

    def forward(self, ids, mask):
        """ids, mask: int64 [batch, seq] (mask a prefix of ones) -> L2-normalised float32 [batch, 512]."""
        m = mask.to(torch.float32)
        mask3 = m.unsqueeze(-1)
        bias4 = ((1.0 - m) * self.attn_bias)[:, None, None, :]
        e = self.w("embeddings")[ids]
        pos = torch.arange(ids.shape[1], dtype=torch.float32).unsqueeze(1) * self.timescales
        timing = torch.cat([torch.sin(pos), torch.cos(pos)], dim=1)
        x0 = (e + (e + timing)) * mask3
        x1 = self.attention(self.ln(x0, 0), 0, bias4) + (x0 @ self.w("res_w") + self.w("res_b")) * mask3
        x2 = self.ffn(x1, 0, mask3)
        x3 = x2 + self.attention(self.ln(x2, 1), 1, bias4)
        x4 = self.ffn(x3, 1, mask3)
        pooled = (x4 * mask3).sum(1) / m.sum(1, keepdim=True).clamp(min=1.0)
        h = torch.tanh(pooled @ self.w("tanh_w") + self.w("tanh_b"))
        return h / torch.sqrt(torch.clamp((h * h).sum(1, keepdim=True), min=self.l2_eps))

    def tf_state(self, dtype=np.float16):
        """The parameters in the TF layout and names (kernels reshaped back), as `dtype` arrays."""
        out = {}
        for k, v in TF_NAMES.items():
            t = self.w(k).detach().cpu().numpy()
            out[v] = t.astype(dtype)
        return out


def batch_ids(seqs):
    """Pads token-id lists into (ids, mask) int64 tensors."""
    n = max(1, max((len(s) for s in seqs), default=1))
    ids = torch.zeros((len(seqs), n), dtype=torch.int64)
    mask = torch.zeros((len(seqs), n), dtype=torch.int64)
    for i, s in enumerate(seqs):
        if s:
            ids[i, : len(s)] = torch.tensor(s, dtype=torch.int64)
            mask[i, : len(s)] = 1
    return ids, mask
