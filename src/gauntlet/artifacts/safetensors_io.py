"""The one safetensors reader: validated header, bounded reads, float32 decode.

Why not just `safetensors.numpy.load_file`? Two reasons. (1) Its numpy backend
cannot return bfloat16 or float8 tensors (numpy has no such dtypes; the library
needs torch for them), and most open models ship bf16. (2) The audit must
stream multi-GiB models with memory bounded independently of model size, so we
read byte ranges into a reused buffer instead of materialising whole tensors.
The header format itself is tiny (8-byte little-endian length + JSON), and we
validate it more strictly than a loader must: everything a hostile file could
lie about is checked before any tensor byte is touched.
"""

from __future__ import annotations

import math
import mmap
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from gauntlet.errors import InputError, UnsafeArtifactError
from gauntlet.files import parse_json

MAX_HEADER_BYTES = 100 * 1024 * 1024
HEADER_DEPTH = 8


class _HeaderError(UnsafeArtifactError, InputError):
    """A header the bounded JSON reader refused: unsafe, and bad input."""

# safetensors dtype tag -> bytes per element
DTYPE_SIZES: dict[str, int] = {
    "BOOL": 1,
    "U8": 1,
    "I8": 1,
    "F8_E4M3": 1,
    "F8_E5M2": 1,
    "I16": 2,
    "U16": 2,
    "F16": 2,
    "BF16": 2,
    "I32": 4,
    "U32": 4,
    "F32": 4,
    "I64": 8,
    "U64": 8,
    "F64": 8,
}
FLOAT_DTYPES = frozenset({"F8_E4M3", "F8_E5M2", "F16", "BF16", "F32", "F64"})

_NUMPY_DIRECT = {
    "BOOL": np.uint8,
    "U8": np.uint8,
    "I8": np.int8,
    "I16": np.int16,
    "U16": np.uint16,
    "F16": np.float16,
    "I32": np.int32,
    "U32": np.uint32,
    "F32": np.float32,
    "I64": np.int64,
    "U64": np.uint64,
    "F64": np.float64,
}


@dataclass(frozen=True)
class TensorInfo:
    """One tensor's header entry. `begin`/`end` are absolute byte offsets in the file."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    begin: int
    end: int

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    @property
    def itemsize(self) -> int:
        return DTYPE_SIZES[self.dtype]

    @property
    def nbytes(self) -> int:
        return self.end - self.begin

    @property
    def is_float(self) -> bool:
        return self.dtype in FLOAT_DTYPES


@dataclass(frozen=True)
class SafetensorsHeader:
    path: Path
    tensors: dict[str, TensorInfo]  # in file-offset order
    metadata: dict[str, str]
    data_start: int
    file_size: int


def _reject_duplicates(pairs: list[tuple[str, object]]) -> dict:
    seen: dict = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(f"duplicate key {key!r}")
        seen[key] = value
    return seen


def read_header(path: str | os.PathLike) -> SafetensorsHeader:
    """Read and validate a safetensors header without touching tensor data.

    Raises `UnsafeArtifactError` (one line naming the file and tensor) if the
    header is oversized, not UTF-8 JSON, or describes tensors whose dtype,
    shape or byte range is inconsistent, overlapping or outside the file.
    """
    path = Path(path)
    label = path.name
    try:
        file_size = path.stat().st_size
        with open(path, "rb") as fh:
            prefix = fh.read(8)
            if len(prefix) < 8:
                raise UnsafeArtifactError(f"{label}: file is shorter than the 8-byte safetensors header length")
            (header_len,) = struct.unpack("<Q", prefix)
            if header_len > MAX_HEADER_BYTES:
                raise UnsafeArtifactError(
                    f"{label}: header claims {header_len} bytes, over the {MAX_HEADER_BYTES}-byte cap"
                )
            if 8 + header_len > file_size:
                raise UnsafeArtifactError(f"{label}: header length {header_len} runs past the end of the file")
            raw = fh.read(header_len)
    except OSError as exc:
        raise UnsafeArtifactError(f"{label}: cannot read safetensors file: {exc.strerror or exc}") from None
    # A header is three levels deep (header -> tensor -> shape list): anything deeper is hostile.
    doc = parse_json(raw, what=f"{label}: header", error=_HeaderError, max_depth=HEADER_DEPTH,
                     max_bytes=MAX_HEADER_BYTES, object_pairs_hook=_reject_duplicates)
    if not isinstance(doc, dict):
        raise UnsafeArtifactError(f"{label}: header must be a JSON object")

    data_start = 8 + header_len
    data_len = file_size - data_start
    metadata: dict[str, str] = {}
    raw_meta = doc.pop("__metadata__", None)
    if raw_meta is not None:
        if not isinstance(raw_meta, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in raw_meta.items()
        ):
            raise UnsafeArtifactError(f"{label}: __metadata__ must map strings to strings")
        metadata = dict(raw_meta)

    entries: list[TensorInfo] = []
    for name, entry in doc.items():
        where = f"{label}: tensor {name!r}"
        if not isinstance(entry, dict) or set(entry) - {"dtype", "shape", "data_offsets"}:
            raise UnsafeArtifactError(f"{where}: entry must have exactly dtype, shape, data_offsets")
        dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
        if dtype not in DTYPE_SIZES:
            raise UnsafeArtifactError(f"{where}: unknown dtype {dtype!r}")
        if not isinstance(shape, list) or not all(
            isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape
        ):
            raise UnsafeArtifactError(f"{where}: shape must be a list of non-negative integers")
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
        ):
            raise UnsafeArtifactError(f"{where}: data_offsets must be [begin, end] integers")
        begin, end = offsets
        if not 0 <= begin <= end <= data_len:
            raise UnsafeArtifactError(
                f"{where}: data_offsets [{begin}, {end}] outside the {data_len}-byte data section"
            )
        expected = math.prod(shape) * DTYPE_SIZES[dtype]
        if end - begin != expected:
            raise UnsafeArtifactError(
                f"{where}: {end - begin} bytes stored but {dtype} x {shape} needs {expected}"
            )
        entries.append(TensorInfo(name, dtype, tuple(shape), data_start + begin, data_start + end))

    entries.sort(key=lambda t: (t.begin, t.end))
    for prev, cur in zip(entries, entries[1:]):
        if cur.begin < prev.end:
            raise UnsafeArtifactError(f"{label}: tensors {prev.name!r} and {cur.name!r} overlap")
    return SafetensorsHeader(
        path=path,
        tensors={t.name: t for t in entries},
        metadata=metadata,
        data_start=data_start,
        file_size=file_size,
    )


# --- decoding -----------------------------------------------------------------


def _fp8_table(exp_bits: int, man_bits: int, bias: int, e4m3fn: bool) -> np.ndarray:
    """float32 value of every byte for an fp8 format (numpy has no fp8 dtype)."""
    codes = np.arange(256, dtype=np.uint32)
    sign = np.where(codes & 0x80, -1.0, 1.0)
    exp = (codes >> man_bits) & ((1 << exp_bits) - 1)
    man = codes & ((1 << man_bits) - 1)
    normal = (1.0 + man / (1 << man_bits)) * np.exp2(exp.astype(np.float64) - bias)
    subnormal = (man / (1 << man_bits)) * np.exp2(1.0 - bias)
    value = sign * np.where(exp == 0, subnormal, normal)
    max_exp = (1 << exp_bits) - 1
    if e4m3fn:  # OCP E4M3FN: no infinities, only S.1111.111 is NaN
        value = np.where((exp == max_exp) & (man == (1 << man_bits) - 1), np.nan, value)
    else:  # E5M2 follows IEEE: max exponent is inf/nan
        value = np.where((exp == max_exp) & (man == 0), sign * np.inf, value)
        value = np.where((exp == max_exp) & (man != 0), np.nan, value)
    return value.astype(np.float32)


_FP8 = {
    "F8_E4M3": _fp8_table(4, 3, 7, e4m3fn=True),
    "F8_E5M2": _fp8_table(5, 2, 15, e4m3fn=False),
}


def decode(raw: np.ndarray | bytes | memoryview, dtype: str, out: np.ndarray | None = None) -> np.ndarray:
    """Decode little-endian raw bytes of a safetensors dtype into a flat float32 array."""
    buf = np.frombuffer(raw, dtype=np.uint8) if not isinstance(raw, np.ndarray) else raw.reshape(-1).view(np.uint8)
    n = buf.size // DTYPE_SIZES[dtype]
    if out is None:
        out = np.empty(n, dtype=np.float32)
    else:
        out = out[:n]
    if dtype == "BF16":
        # bf16 is the top half of a float32: shift into place, reinterpret.
        np.left_shift(buf.view("<u2"), 16, out=out.view(np.uint32), dtype=np.uint32)
    elif dtype in _FP8:
        np.take(_FP8[dtype], buf, out=out)
    else:
        out[...] = buf.view(np.dtype(_NUMPY_DIRECT[dtype]).newbyteorder("<"))
    return out


def decode_leading(rows: np.ndarray, dtype: str, row_elems: int, count: int) -> np.ndarray:
    """The first `count` values of each row of a block of whole rows (uint8, rows x
    row_elems*itemsize) as a float32 (rows x count) array, decoded straight from the
    strided bytes: no intermediate copy of the columns, so sketching a row costs O(count)."""
    isz = DTYPE_SIZES[dtype]
    grid = rows.reshape(-1, row_elems * isz)
    if dtype in ("BF16", "F16") and grid.ctypes.data % 2 == 0:
        half = grid.view("<u2")[:, :count]
        if dtype == "F16":
            return half.view(np.float16).astype(np.float32)
        out = np.empty(half.shape, np.uint32)
        np.left_shift(half, 16, out=out, dtype=np.uint32)
        return out.view(np.float32)
    if dtype == "F32" and grid.ctypes.data % 4 == 0:
        return grid.view("<f4")[:, :count].astype(np.float32)
    return decode(np.ascontiguousarray(grid[:, : count * isz]), dtype).reshape(grid.shape[0], count)


def read_tensor(header: SafetensorsHeader, name: str, rows: slice | None = None) -> np.ndarray:
    """One tensor (or a block of its leading-axis rows) as float32, via mmap.

    Only the requested byte range is mapped and decoded; the rest of the file is
    never read.
    """
    try:
        info = header.tensors[name]
    except KeyError:
        raise UnsafeArtifactError(f"{header.path.name}: no tensor named {name!r}") from None
    shape = info.shape
    row_elems = math.prod(shape[1:]) if shape else 1
    lead = shape[0] if shape else 1
    start, stop = 0, lead
    if rows is not None:
        start, stop, step = rows.indices(lead)
        if step != 1:
            raise ValueError("row blocks must be contiguous")
        stop = max(stop, start)
    out_shape = ((stop - start),) + tuple(shape[1:]) if shape else ()
    nbytes = (stop - start) * row_elems * info.itemsize
    if nbytes == 0:
        return np.zeros(out_shape, dtype=np.float32)
    begin = info.begin + start * row_elems * info.itemsize
    page = mmap.ALLOCATIONGRANULARITY
    aligned = begin - begin % page
    with open(header.path, "rb") as fh, mmap.mmap(
        fh.fileno(), length=begin - aligned + nbytes, offset=aligned, access=mmap.ACCESS_READ
    ) as mm:
        raw = np.frombuffer(mm, dtype=np.uint8, count=nbytes, offset=begin - aligned)
        result = decode(raw, info.dtype).reshape(out_shape)
        del raw  # the view must go before the map closes
    return result


def iter_row_blocks(
    header: SafetensorsHeader, name: str, max_bytes: int = 64 * 1024 * 1024
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (first_row, float32 block) over a tensor's leading axis, each block under
    about `max_bytes` of float32, so any tensor can be processed in bounded memory."""
    info = header.tensors[name]
    lead = info.shape[0] if info.shape else 1
    row_elems = math.prod(info.shape[1:]) if info.shape else 1
    step = max(1, max_bytes // max(1, row_elems * 4))
    for start in range(0, lead, step):
        yield start, read_tensor(header, name, slice(start, min(lead, start + step)))
