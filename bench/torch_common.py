"""Pieces shared by the PyTorch benchmark scripts (pytorch_train.py, pytorch_explain.py):
the MNIST IDX reader, genrep's VisionCnn in PyTorch, and summary statistics."""

import gzip
import os
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


class TextCnn(nn.Module):
    """embedding(V x e) -> conv1d k 'same' -> relu -> conv1d k 'same' -> relu -> max over time ->
    linear head (crates/models/src/text_cnn.rs)."""

    def __init__(self, num_classes, vocab=30522, embed=48, hidden=128, kernel=5):
        super().__init__()
        self.embedding = nn.Embedding(vocab, embed)
        self.conv1 = nn.Conv1d(embed, hidden, kernel, padding=kernel // 2)
        self.conv2 = nn.Conv1d(hidden, hidden, kernel, padding=kernel // 2)
        self.head = nn.Linear(hidden, num_classes)

    def features(self, tokens):
        x = self.embedding(tokens).transpose(1, 2)
        x = F.relu(self.conv2(F.relu(self.conv1(x))))
        return x.max(dim=2).values

    def forward(self, tokens):
        return self.head(self.features(tokens))


CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def load_cifar(data_dir, task):
    """The training images of a CIFAR-10 task (`cifar10` or `cifar10:A-vs-B`, class names or
    indices), normalised per channel, as float32 [n, 3, 32, 32] and int64 labels."""
    def read(i):
        path = f"{data_dir}/cifar-10-batches-bin/data_batch_{i}.bin"
        if os.path.exists(path + ".gz"):
            with gzip.open(path + ".gz", "rb") as f:
                return f.read()
        with open(path, "rb") as f:
            return f.read()

    raw = b"".join(read(i) for i in range(1, 6))
    rec = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3073)
    labels, images = rec[:, 0].astype(np.int64), rec[:, 1:].reshape(-1, 3, 32, 32)
    if task == "cifar10":
        classes = list(range(10))
    else:
        names = task.split(":", 1)[1].split("-vs-")
        classes = [CIFAR_CLASSES.index(c) if c in CIFAR_CLASSES else int(c) for c in names]
    keep = np.isin(labels, classes)
    x = images[keep].astype(np.float32) / 255.0
    x = (x - x.mean(axis=(0, 2, 3), keepdims=True)) / x.std(axis=(0, 2, 3), keepdims=True)
    remap = {c: i for i, c in enumerate(classes)}
    return x, np.array([remap[v] for v in labels[keep]], dtype=np.int64), len(classes)


def synthetic_tokens(n, seq_len, vocab=30522, seed=0):
    """Token ids for text throughput measurements: [CLS], 20-60 random WordPiece ids, [SEP],
    [PAD] to `seq_len` (the dense convolutions' cost does not depend on which ids they are)."""
    rng = np.random.default_rng(seed)
    ids = np.zeros((n, seq_len), dtype=np.int64)
    for i in range(n):
        length = min(seq_len - 2, int(rng.integers(20, 61)))
        ids[i, 0], ids[i, length + 1] = 101, 102
        ids[i, 1 : length + 1] = rng.integers(1000, vocab, size=length)
    return ids, (rng.random(n) < 0.5).astype(np.int64), 2


def stats(xs):
    """Median, mean, sample standard deviation, min and max of a list of numbers."""
    return {
        "median": statistics.median(xs),
        "mean": statistics.fmean(xs),
        "sd": statistics.stdev(xs) if len(xs) > 1 else 0.0,
        "min": min(xs),
        "max": max(xs),
    }
