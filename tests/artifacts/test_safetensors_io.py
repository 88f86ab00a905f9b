"""The safetensors reader refuses lying headers and decodes every float dtype."""

import json
import struct

import numpy as np
import pytest
from safetensors.numpy import save_file

from gauntlet.artifacts.safetensors_io import decode, iter_row_blocks, read_header, read_tensor
from gauntlet.errors import UnsafeArtifactError


def _write_raw(path, header: dict, data: bytes = b"", header_len=None):
    blob = json.dumps(header).encode()
    n = len(blob) if header_len is None else header_len
    path.write_bytes(struct.pack("<Q", n) + blob + data)
    return path


def test_header_of_a_real_file(tmp_path):
    path = tmp_path / "m.safetensors"
    save_file({"a": np.ones((3, 4), np.float32), "b": np.arange(5, dtype=np.int64)}, str(path), metadata={"k": "v"})
    header = read_header(path)
    assert set(header.tensors) == {"a", "b"}
    a = header.tensors["a"]
    assert a.dtype == "F32" and a.shape == (3, 4) and a.nbytes == 48
    assert a.begin >= header.data_start and a.end <= header.file_size
    assert header.metadata == {"k": "v"}


@pytest.mark.parametrize(
    "header, data, needle",
    [
        ({"t": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 4, "outside"),
        ({"t": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, b"\0" * 12, "needs 12"),
        ({"t": {"dtype": "Q7", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 8, "unknown dtype"),
        ({"t": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}}, b"\0" * 8, "non-negative"),
        ({"t": {"dtype": "F32", "shape": [2], "data_offsets": [4, 0]}}, b"\0" * 8, "outside"),
        (
            {
                "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]},
            },
            b"\0" * 12,
            "overlap",
        ),
        ({"__metadata__": {"k": 3}}, b"", "__metadata__"),
        ({"t": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8], "x": 1}}, b"\0" * 8, "exactly"),
    ],
)
def test_lying_headers_are_refused_with_one_line_naming_file(tmp_path, header, data, needle):
    path = _write_raw(tmp_path / "bad.safetensors", header, data)
    with pytest.raises(UnsafeArtifactError) as err:
        read_header(path)
    message = str(err.value)
    assert needle in message and "bad.safetensors" in message and "\n" not in message


def test_tensor_is_named_in_error(tmp_path):
    path = _write_raw(tmp_path / "x.safetensors", {"layer.7.w": {"dtype": "F32", "shape": [9], "data_offsets": [0, 8]}}, b"\0" * 8)
    with pytest.raises(UnsafeArtifactError, match="layer.7.w"):
        read_header(path)


def test_header_size_cap_and_truncation(tmp_path):
    huge = tmp_path / "huge.safetensors"
    huge.write_bytes(struct.pack("<Q", 1 << 40) + b"{}")
    with pytest.raises(UnsafeArtifactError, match="cap"):
        read_header(huge)
    short = _write_raw(tmp_path / "short.safetensors", {}, header_len=500)
    with pytest.raises(UnsafeArtifactError, match="past the end"):
        read_header(short)
    (tmp_path / "tiny.safetensors").write_bytes(b"abc")
    with pytest.raises(UnsafeArtifactError, match="shorter"):
        read_header(tmp_path / "tiny.safetensors")


def test_non_utf8_non_json_and_duplicate_keys(tmp_path):
    p = tmp_path / "u.safetensors"
    p.write_bytes(struct.pack("<Q", 2) + b"\xff\xfe")
    with pytest.raises(UnsafeArtifactError, match="UTF-8"):
        read_header(p)
    p.write_bytes(struct.pack("<Q", 3) + b"[1]")
    with pytest.raises(UnsafeArtifactError, match="object"):
        read_header(p)
    blob = b'{"a": {"dtype": "U8", "shape": [0], "data_offsets": [0, 0]}, "a": {"dtype": "U8", "shape": [0], "data_offsets": [0, 0]}}'
    p.write_bytes(struct.pack("<Q", len(blob)) + blob)
    with pytest.raises(UnsafeArtifactError, match="duplicate"):
        read_header(p)


def test_bf16_decode_matches_truncated_float32(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 8)).astype(np.float32)
    bits = (x.view(np.uint32) >> 16).astype(np.uint16)  # truncation = exact bf16 values
    expected = (bits.astype(np.uint32) << 16).view(np.float32)
    blob = bits.tobytes()
    path = _write_raw(tmp_path / "bf.safetensors", {"w": {"dtype": "BF16", "shape": [16, 8], "data_offsets": [0, len(blob)]}}, blob)
    header = read_header(path)
    np.testing.assert_array_equal(read_tensor(header, "w"), expected)
    np.testing.assert_array_equal(read_tensor(header, "w", slice(3, 7)), expected[3:7])
    blocks = list(iter_row_blocks(header, "w", max_bytes=5 * 8 * 4))
    assert [b[0] for b in blocks] == [0, 5, 10, 15]
    np.testing.assert_array_equal(np.concatenate([b[1] for b in blocks]), expected)


def test_fp16_fp32_int_decode(tmp_path):
    path = tmp_path / "m.safetensors"
    tensors = {
        "h": np.linspace(-3, 3, 12, dtype=np.float16).reshape(3, 4),
        "f": np.linspace(-1, 1, 6, dtype=np.float32),
        "i": np.arange(-4, 4, dtype=np.int32),
    }
    save_file(tensors, str(path))
    header = read_header(path)
    for name, value in tensors.items():
        out = read_tensor(header, name)
        assert out.dtype == np.float32
        np.testing.assert_array_equal(out, value.astype(np.float32))


def test_fp8_tables_match_known_values():
    # E4M3FN: 0x38 = 1.0, 0x7e = 448 (max), 0x01 = 2^-9 (smallest subnormal), 0x7f = NaN
    e4 = decode(np.array([0x38, 0x7E, 0x01, 0xB8, 0x7F], np.uint8), "F8_E4M3")
    assert e4[0] == 1.0 and e4[1] == 448.0 and e4[2] == 2.0**-9 and e4[3] == -1.0 and np.isnan(e4[4])
    # E5M2: 0x3c = 1.0, 0x7b = 57344 (max), 0x7c = inf
    e5 = decode(np.array([0x3C, 0x7B, 0x7C], np.uint8), "F8_E5M2")
    assert e5[0] == 1.0 and e5[1] == 57344.0 and np.isinf(e5[2])
