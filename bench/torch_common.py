"""Pieces shared by the PyTorch benchmark scripts (pytorch_train.py, pytorch_explain.py):
the MNIST IDX reader, genrep's VisionCnn in PyTorch, and summary statistics."""

import gzip
import statistics
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def read_idx(path):
    """An unsigned-byte IDX file (gzip), as a numpy array of its dimensions."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    (magic,) = struct.unpack(">I", raw[:4])
    ndim = magic & 0xFF
    if magic >> 8 != 0x08:
        sys.exit(f"{path}: not an unsigned-byte IDX file (magic {magic:#x})")
    dims = struct.unpack(">" + "I" * ndim, raw[4 : 4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


class VisionCnn(nn.Module):
    """conv5x5 'same' -> relu -> maxpool2 -> conv5x5 'same' -> relu -> maxpool2 -> flatten ->
    linear head (crates/models/src/vision_cnn.rs)."""

    def __init__(self, num_classes, in_channels=1, height=28, width=28, channels=(32, 64), kernel=5):
        super().__init__()
        pad = kernel // 2
        self.conv1 = nn.Conv2d(in_channels, channels[0], kernel, padding=pad)
        self.conv2 = nn.Conv2d(channels[0], channels[1], kernel, padding=pad)
        self.pool = nn.MaxPool2d(2, 2)
        self.head = nn.Linear(channels[1] * (height // 4) * (width // 4), num_classes)

    def features(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        return torch.flatten(x, 1)

    def forward(self, x):
        return self.head(self.features(x))


def stats(xs):
    """Median, mean, sample standard deviation, min and max of a list of numbers."""
    return {
        "median": statistics.median(xs),
        "mean": statistics.fmean(xs),
        "sd": statistics.stdev(xs) if len(xs) > 1 else 0.0,
        "min": min(xs),
        "max": max(xs),
    }
