"""What a fingerprint keeps of one tensor, computed in one pass with O(1) work per byte.

A tensor of shape (m, n, ...) is viewed as an m x n matrix. Of its units
(rows, columns) we keep only the first K = 128 of each axis, and three small
pieces that the matched-units tests in `statistics` compare:

- `block`: the top-left K x K corner. Units of one axis, described by their
  values along the other: the most powerful evidence when unit order was kept
  (fine-tuning, even heavy continued pre-training).
- `cross_in`: cosines between column units [0, K/2) and [K/2, K), summed over
  *all* rows. Unchanged when rows are permuted, pruned, added, split, fused or
  rotated (neurons, heads, vocabulary rows, a rotated output side).
- `cross_out`: cosines between row units [0, K/2) and [K/2, K), summed over
  *all* columns. Unchanged when columns are permuted or rotated by any
  orthogonal matrix (a rotated residual stream on the input side).

Why halves: a unit of the first half is described by its cosines with the
second half, so relabelling first-half units leaves the description's
coordinates in place; that is what makes the test's null distribution exact.
Cosines (not centred correlations) because they are exactly invariant to
rotations; validity never depends on the similarity used, only power does.

Per row of the tensor only its first K values are decoded (bf16/fp16/fp8 ->
float32) and fed to one small BLAS product, so the cost per byte is a small
constant however wide or long the tensor is; the first K rows are kept whole.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gauntlet.artifacts.safetensors_io import DTYPE_SIZES, decode, decode_leading

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
    cross_in: np.ndarray | None = None
    cross_out: np.ndarray | None = None
    vector: np.ndarray | None = None  # 1-D tensors (norm gains, biases)
    # axes whose units may not carry evidence (`validity.checked`); None: not checked yet
    unusable: dict[str, tuple[str, str]] | None = None

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


def _cosines(cross: np.ndarray, sq_a: np.ndarray, sq_b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        out = cross / np.sqrt(np.outer(sq_a, sq_b))
    return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)


class SketchAccumulator:
    """Builds a `TensorSketch` from whole-row blocks of raw bytes, fed in any block size
    and in any order (the sums commute; the first K rows are captured by index)."""

    def __init__(self, name: str, dtype: str, shape: tuple[int, ...], k: int = SKETCH_SIZE):
        self.name, self.dtype, self.shape = name, dtype, tuple(shape)
        self.itemsize = DTYPE_SIZES[dtype]
        self.m = self.shape[0] if self.shape else 1
        self.n = math.prod(self.shape[1:]) if len(self.shape) > 1 else 1
        self.matrix = len(self.shape) >= 2 and self.m >= 2 and self.n >= 2
        self.ki = min(self.n, k)  # column units kept
        self.ko = min(self.m, k)  # row units kept
        self.hi = self.ki // 2
        self._cross = np.zeros((self.hi, self.ki - self.hi), np.float64)
        self._sq = np.zeros(self.ki, np.float64)
        self._colsum = np.zeros(self.ki, np.float64)
        self._rows_seen = 0
        self._head = np.zeros((self.ko, self.n), np.float32) if self.matrix else None
        self._vector: list[np.ndarray] = []
        self._vector_len = 0
        self._sum = 0.0
        self._sumsq = 0.0
        self._count = 0

    def feed(self, first_row: int, raw: np.ndarray) -> None:
        """raw: uint8 array holding whole rows (rows x n*itemsize bytes) from `first_row`.
        For 1-D tensors a "row" is one element."""
        if not self.matrix:
            if self._vector_len < MAX_VECTOR:
                vec = decode(raw, self.dtype)[: MAX_VECTOR - self._vector_len].copy()
                self._vector.append(vec)
                self._vector_len += vec.size
                self._stat(vec)
            return
        isz = self.itemsize
        grid = raw.reshape(-1, self.n * isz)
        rows = grid.shape[0]
        # Only the first K values of each row are decoded: O(K) work per row. Non-finite
        # values make the affected sums non-finite, which `finish` turns into zeros.
        cols = decode_leading(grid, self.dtype, self.n, self.ki)
        self._cross += cols[:, : self.hi].T @ cols[:, self.hi :]
        self._sq += np.einsum("ij,ij->j", cols, cols)
        self._colsum += np.ones(rows, np.float32) @ cols  # a BLAS call: 3x a strided sum
        self._rows_seen += rows
        if first_row < self.ko:
            take = min(rows, self.ko - first_row)
            decode(grid[:take], self.dtype, out=self._head[first_row : first_row + take].reshape(-1))

    def _stat(self, values: np.ndarray) -> None:
        self._sum += float(values.sum(dtype=np.float64))
        flat = values.reshape(-1)
        self._sumsq += float(np.dot(flat, flat))
        self._count += values.size

    def finish(self) -> TensorSketch:
        if self.matrix:  # moments of the sampled columns (all rows)
            self._count = self._rows_seen * self.ki
            self._sum, self._sumsq = float(self._colsum.sum()), float(self._sq.sum())
        mean = self._sum / max(1, self._count) if math.isfinite(self._sum) else 0.0
        var = self._sumsq / max(1, self._count) - mean * mean
        std = math.sqrt(var) if math.isfinite(var) and var > 0 else 0.0
        sketch = TensorSketch(self.name, self.dtype, self.shape, mean, std)
        if not self.matrix:
            sketch.vector = np.concatenate(self._vector) if self._vector else np.zeros(0, np.float32)
            return sketch
        head = self._head
        if not np.isfinite(head).all():  # one cheap pass in the usual case
            head = np.nan_to_num(head, nan=0.0, posinf=0.0, neginf=0.0)
        ho = self.ko // 2
        # float32 products: the cosines are stored as float16, far coarser than their rounding
        sq_rows = np.einsum("ij,ij->i", head, head).astype(np.float64)
        sketch.cross_in = _cosines(self._cross, self._sq[: self.hi], self._sq[self.hi :])
        sketch.cross_out = _cosines((head[:ho] @ head[ho:].T).astype(np.float64), sq_rows[:ho], sq_rows[ho:])
        block = head[:, : self.ki]
        # Kept as the file keeps it (scale-free float16: the tests are scale invariant), so a
        # model folder and its fingerprint file give the same numbers, and memory stays small.
        sketch.block = (block / (float(np.abs(block).max()) or 1.0)).astype(np.float16)
        sketch.cross_in = sketch.cross_in.astype(np.float16)
        sketch.cross_out = sketch.cross_out.astype(np.float16)
        return sketch


def sketch_array(name: str, array: np.ndarray, k: int = SKETCH_SIZE) -> TensorSketch:
    """Sketch an in-memory array (tests, generators): same result as streaming its bytes."""
    arr = np.ascontiguousarray(np.asarray(array, dtype=np.float32))
    shape = arr.shape if arr.ndim else (1,)
    acc = SketchAccumulator(name, "F32", tuple(shape), k=k)
    acc.feed(0, arr.reshape(-1).view(np.uint8))
    return acc.finish()
