"""What a fingerprint keeps of one tensor, and how it is computed in bounded memory.

A tensor of shape (m, n, ...) is viewed as an m x n matrix. We keep three small
pieces, each of size at most K x K, chosen so that the tests in `statistics`
survive the disguises an adversary can apply without changing the model:

- `block`: the top-left K x K corner (detects reuse after heavy drift when unit
  order was kept: the most powerful test).
- `gram_in`: correlations between the first K columns, summed over *all* rows.
  Unchanged when rows are permuted, pruned, added (neurons, heads, vocabulary
  rows) or when the tensor is split/fused along its rows.
- `gram_out`: correlations between the first K rows, summed over *all* columns.
  Unchanged when columns are rotated by any orthogonal matrix (a rotated
  residual stream) or permuted.

Everything else about the tensor is discarded, so the fingerprint stays a small
fixed size per tensor however large the model is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from gauntlet.artifacts.safetensors_io import decode

SKETCH_SIZE = 128
MAX_VECTOR = 65536


@dataclass
class TensorSketch:
    name: str  # as the model calls it: shown to people, never used to align
    dtype: str
    shape: tuple[int, ...]
    mean: float
    std: float
    block: np.ndarray | None = None
    gram_in: np.ndarray | None = None
    gram_out: np.ndarray | None = None
    vector: np.ndarray | None = None  # 1-D tensors (norm gains, biases)

    @property
    def rows(self) -> int:
        return self.shape[0]

    @property
    def cols(self) -> int:
        return math.prod(self.shape[1:])

    @property
    def is_matrix(self) -> bool:
        return self.block is not None

    @property
    def numel(self) -> int:
        return math.prod(self.shape)


def _correlation(cov: np.ndarray) -> np.ndarray:
    d = np.sqrt(np.clip(np.diag(cov), 0, None))
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = cov / np.outer(d, d)
    corr = np.nan_to_num(corr, nan=0.0, posinf=0.0, neginf=0.0)
    np.fill_diagonal(corr, 0.0)
    return corr.astype(np.float32)


@dataclass
class SketchAccumulator:
    """Builds a `TensorSketch` from row blocks of raw bytes, in any block size."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    k: int = SKETCH_SIZE
    _col_sum: np.ndarray = field(init=False, repr=False)
    _col_gram: np.ndarray = field(init=False, repr=False)
    _head: np.ndarray = field(init=False, repr=False)
    _vector: list = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.m = self.shape[0] if self.shape else 1
        self.n = math.prod(self.shape[1:]) if len(self.shape) > 1 else 1
        self.matrix = len(self.shape) >= 2 and self.m >= 2 and self.n >= 2
        self.ki = min(self.n, self.k)
        self.ko = min(self.m, self.k)
        self._col_sum = np.zeros(self.ki, np.float64)
        self._col_gram = np.zeros((self.ki, self.ki), np.float64)
        self._head = np.zeros((self.ko, self.n), np.float32) if self.matrix else np.zeros(0, np.float32)
        self._vector = []
        self._seen = 0
        self._sum = 0.0
        self._sumsq = 0.0
        self._count = 0

    def feed(self, first_row: int, raw: np.ndarray) -> None:
        """raw: uint8 array holding whole rows (rows x n*itemsize bytes) from `first_row`."""
        from gauntlet.artifacts.safetensors_io import DTYPE_SIZES

        isz = DTYPE_SIZES[self.dtype]
        rows = raw.size // (self.n * isz)
        if not self.matrix:
            if sum(v.size for v in self._vector) < MAX_VECTOR:
                vec = decode(raw, self.dtype)
                self._vector.append(vec[: MAX_VECTOR])
                self._stat(vec)
            return
        grid = raw.reshape(rows, self.n * isz)
        cols = decode(np.ascontiguousarray(grid[:, : self.ki * isz]), self.dtype).reshape(rows, self.ki)
        self._col_gram += cols.T @ cols
        self._col_sum += cols.sum(axis=0, dtype=np.float64)
        self._stat(cols)
        if first_row < self.ko:
            take = min(rows, self.ko - first_row)
            self._head[first_row : first_row + take] = decode(
                np.ascontiguousarray(grid[:take]), self.dtype
            ).reshape(take, self.n)
        self._seen += rows

    def _stat(self, values: np.ndarray) -> None:
        finite = values[np.isfinite(values)] if not np.isfinite(values).all() else values
        self._sum += float(finite.sum(dtype=np.float64))
        self._sumsq += float(np.dot(finite.ravel().astype(np.float64), finite.ravel().astype(np.float64)))
        self._count += finite.size

    def finish(self) -> TensorSketch:
        mean = self._sum / max(1, self._count)
        std = math.sqrt(max(0.0, self._sumsq / max(1, self._count) - mean * mean))
        sketch = TensorSketch(self.name, self.dtype, tuple(self.shape), mean, std)
        if not self.matrix:
            sketch.vector = np.concatenate(self._vector) if self._vector else np.zeros(0, np.float32)
            return sketch
        count = max(1, self._seen)
        mu = self._col_sum / count
        sketch.gram_in = _correlation(self._col_gram / count - np.outer(mu, mu))
        head = self._head.astype(np.float64)
        head -= head.mean(axis=1, keepdims=True)
        sketch.gram_out = _correlation(head @ head.T)
        sketch.block = self._head[:, : self.ki].copy()
        return sketch


def sketch_array(name: str, array: np.ndarray, k: int = SKETCH_SIZE) -> TensorSketch:
    """Sketch an in-memory array (tests, generators): same result as streaming its bytes."""
    arr = np.ascontiguousarray(np.asarray(array, dtype=np.float32))
    shape = arr.shape if arr.ndim else (1,)
    acc = SketchAccumulator(name, "F32", tuple(shape), k=k)
    acc.feed(0, arr.reshape(-1).view(np.uint8))
    return acc.finish()
