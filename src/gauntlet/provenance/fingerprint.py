"""One streaming pass over a model's safetensors shards -> a small, versioned fingerprint.

The pass reads every shard once, sequentially, in fixed-size chunks (a reader
thread does the I/O and sha256 while the main thread sketches), so memory is
bounded by a few chunks whatever the model's size. Tensors are sketched by
`sketch.SketchAccumulator`. The fingerprint file is itself a safetensors file:
the sketches are its tensors and the descriptive part (format version, shard
hashes, origin, tokenizer summary) is JSON in its `__metadata__`, so reading a
fingerprint goes through the same validated reader as a model.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gauntlet.artifacts.layout import open_model_folder
from gauntlet.artifacts.safetensors_io import DTYPE_SIZES, read_header, read_tensor
from gauntlet.errors import InputError, UnsafeArtifactError
from gauntlet.provenance.sketch import SketchAccumulator, TensorSketch, sketch_array
from gauntlet.provenance.tokenizer import TokenizerSummary, summarise_tokenizer

FORMAT = "gauntlet-fingerprint"
FORMAT_VERSION = 2
CHUNK_BYTES = 16 * 1024 * 1024
ORIGIN_FIELDS = ("organisation", "country", "licence", "release_date")


@dataclass
class Fingerprint:
    name: str
    tensors: list[TensorSketch]
    shards: list[dict] = field(default_factory=list)  # [{"file", "sha256", "bytes"}]
    origin: dict = field(default_factory=dict)
    config: dict = field(default_factory=dict)
    tokenizer: TokenizerSummary | None = None
    model_bytes: int = 0
    source: str = ""  # where it was loaded from (not saved)

    # ---------------------------------------------------------------- files
    def save(self, path: str | os.PathLike) -> Path:
        from safetensors.numpy import save_file

        arrays: dict[str, np.ndarray] = {}
        table = []
        for i, t in enumerate(self.tensors):
            table.append({"name": t.name, "dtype": t.dtype, "shape": list(t.shape), "mean": t.mean, "std": t.std})
            for part in ("block", "cross_in", "cross_out", "vector"):
                value = getattr(t, part)
                if value is None:
                    continue
                if part == "block":  # store scale-free: the tests are scale invariant
                    value = value / (float(np.abs(value).max()) or 1.0)
                arrays[f"{i}.{part}"] = np.ascontiguousarray(value.astype(np.float16))
        meta = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "name": self.name,
            "origin": self.origin,
            "shards": self.shards,
            "model_bytes": self.model_bytes,
            "config": self.config,
            "tensors": table,
            "tokenizer": self.tokenizer.to_json() if self.tokenizer else None,
        }
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        save_file(arrays, str(tmp), metadata={"gauntlet": json.dumps(meta, ensure_ascii=False)})
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Fingerprint":
        path = Path(path)
        header = read_header(path)
        try:
            meta = json.loads(header.metadata["gauntlet"])
        except (KeyError, json.JSONDecodeError):
            raise InputError(f"{path.name} is a safetensors file but not a Gauntlet fingerprint") from None
        if meta.get("format") != FORMAT:
            raise InputError(f"{path.name} is not a Gauntlet fingerprint")
        if meta.get("version") != FORMAT_VERSION:
            raise InputError(
                f"{path.name} is fingerprint format v{meta.get('version')}; this Gauntlet reads v{FORMAT_VERSION}"
            )
        tensors = []
        for i, row in enumerate(meta["tensors"]):
            t = TensorSketch(row["name"], row["dtype"], tuple(row["shape"]), row["mean"], row["std"])
            for part in ("block", "cross_in", "cross_out", "vector"):
                key = f"{i}.{part}"
                if key in header.tensors:
                    setattr(t, part, read_tensor(header, key))
            tensors.append(t)
        tok = meta.get("tokenizer")
        return cls(
            name=meta["name"],
            tensors=tensors,
            shards=meta.get("shards", []),
            origin=meta.get("origin") or {},
            config=meta.get("config") or {},
            tokenizer=TokenizerSummary.from_json(tok) if tok else None,
            model_bytes=int(meta.get("model_bytes", 0)),
            source=str(path),
        )


# ------------------------------------------------------------------ streaming


def _reader(path: Path, plan: list, free: "queue.Queue", ready: "queue.Queue", digest) -> None:
    """I/O thread: read the shard front to back (hashing every byte) and hand
    row-aligned chunks of each tensor to the sketching thread."""
    try:
        with open(path, "rb", buffering=0) as fh:
            if hasattr(os, "posix_fadvise"):
                os.posix_fadvise(fh.fileno(), 0, 0, os.POSIX_FADV_SEQUENTIAL)
            for kind, info, first_row, nbytes in plan:
                buf = free.get()
                view = memoryview(buf)[:nbytes]
                got = 0
                while got < nbytes:
                    n = fh.readinto(view[got:])
                    if not n:
                        raise UnsafeArtifactError(f"{path.name}: file ended early while reading")
                    got += n
                digest.update(view)
                ready.put((kind, info, first_row, buf, nbytes))
        ready.put(None)
    except BaseException as exc:  # handed to the consumer, which re-raises
        ready.put(exc)


def _plan(header, chunk: int) -> list:
    """Sequential read plan covering every byte of the file: gaps are hashed only."""
    plan = []
    pos = 0

    def skip(until: int) -> None:
        nonlocal pos
        while pos < until:
            n = min(chunk, until - pos)
            plan.append(("skip", None, 0, n))
            pos += n

    for info in header.tensors.values():
        skip(info.begin)
        row_bytes = (info.numel // info.shape[0] if info.shape and info.shape[0] else info.numel) * DTYPE_SIZES[info.dtype]
        rows_total = info.shape[0] if info.shape else 1
        if info.nbytes == 0:
            continue
        if len(info.shape) < 2:
            row_bytes = DTYPE_SIZES[info.dtype]
            rows_total = info.numel
        if row_bytes > chunk:
            raise UnsafeArtifactError(f"{header.path.name}: tensor {info.name!r} has rows over {chunk} bytes")
        per = max(1, chunk // row_bytes)
        for first in range(0, rows_total, per):
            n = min(per, rows_total - first) * row_bytes
            plan.append(("tensor", info, first, n))
            pos += n
    skip(header.file_size)
    return plan


def fingerprint_model(
    model_dir: str | os.PathLike,
    *,
    name: str | None = None,
    origin: dict | None = None,
    progress: bool = True,
    chunk_bytes: int = CHUNK_BYTES,
) -> Fingerprint:
    """Fingerprint a model folder in one sequential pass over its safetensors shards."""
    folder = open_model_folder(model_dir)
    headers = [read_header(p) for p in folder.shards]  # every header validated before any data
    total = sum(h.file_size for h in headers)
    sketches: list[TensorSketch] = []
    shards = []
    bar = None
    if progress:
        from gauntlet.console import progress_bar

        bar = progress_bar(bytes_mode=True)
        bar.start()
        task = bar.add_task(f"fingerprint {folder.name}", total=total)
    try:
        for header in headers:
            digest = hashlib.sha256()
            free: queue.Queue = queue.Queue()
            for _ in range(3):
                free.put(bytearray(chunk_bytes))
            ready: queue.Queue = queue.Queue()
            plan = _plan(header, chunk_bytes)
            thread = threading.Thread(target=_reader, args=(header.path, plan, free, ready, digest), daemon=True)
            thread.start()
            accs: dict[str, SketchAccumulator] = {}
            while True:
                item = ready.get()
                if item is None:
                    break
                if isinstance(item, BaseException):
                    raise item
                kind, info, first_row, buf, nbytes = item
                if kind == "tensor":
                    acc = accs.get(info.name)
                    if acc is None:
                        acc = accs[info.name] = SketchAccumulator(info.name, info.dtype, info.shape)
                    acc.feed(first_row, np.frombuffer(buf, np.uint8, count=nbytes))
                free.put(buf)
                if bar is not None:
                    bar.advance(task, nbytes)
            thread.join()
            for info in header.tensors.values():
                acc = accs.get(info.name) or SketchAccumulator(info.name, info.dtype, info.shape)
                if info.numel:
                    sketches.append(acc.finish())
            shards.append(
                {"file": header.path.name, "sha256": digest.hexdigest(), "bytes": header.file_size}
            )
    finally:
        if bar is not None:
            bar.stop()
    keep = ("model_type", "architectures", "hidden_size", "num_hidden_layers", "intermediate_size",
            "num_attention_heads", "vocab_size")
    return Fingerprint(
        name=name or folder.name,
        tensors=sketches,
        shards=shards,
        origin=dict(origin or {}),
        config={k: folder.config[k] for k in keep if k in folder.config},
        tokenizer=summarise_tokenizer(folder.tokenizer),
        model_bytes=total,
        source=str(folder.root),
    )


def fingerprint_arrays(name: str, tensors: dict[str, np.ndarray], *, origin: dict | None = None,
                       tokenizer: TokenizerSummary | None = None) -> Fingerprint:
    """Fingerprint in-memory tensors (generators and tests): same sketches as a folder."""
    sketches = [sketch_array(k, v) for k, v in tensors.items() if np.asarray(v).size]
    return Fingerprint(name=name, tensors=sketches, origin=dict(origin or {}), tokenizer=tokenizer,
                       model_bytes=int(sum(np.asarray(v).nbytes for v in tensors.values())))


def load_any(source) -> Fingerprint:
    """A Fingerprint object, a fingerprint file, or a model folder -> Fingerprint."""
    if isinstance(source, Fingerprint):
        return source
    path = Path(source)
    if path.is_dir():
        return fingerprint_model(path, progress=False)
    if not path.exists():
        raise InputError(f"{path} does not exist (expected a model folder or a fingerprint file)")
    return Fingerprint.load(path)
