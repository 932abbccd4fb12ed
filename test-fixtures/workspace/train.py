"""Trains a small two-layer attention model and exports it for Attention Paths (needs torch)."""
import torch
from torch import nn


class Model(nn.Module):
    def __init__(self, d_model=16, heads=4):
        super().__init__()
        self.attn1 = nn.MultiheadAttention(d_model, heads, batch_first=True)
        self.attn2 = nn.MultiheadAttention(d_model, heads, batch_first=True)
        self.readout = nn.Linear(d_model, 1)

    def forward(self, x):
        h, _ = self.attn1(x, x, x)
        h, _ = self.attn2(h, h, h)
        return self.readout(h.mean(dim=1))


model = Model()
x = torch.randn(8, 12, 16)
torch.onnx.export(model, (x,), "models/model.onnx", input_names=["X"], opset_version=17)
