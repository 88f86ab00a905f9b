"""A bounded fuzz run over every reader of hostile input, with its findings counted.

Each reader gets `--cases` inputs made from valid seeds by seeded mutations
(byte flips, truncation, nesting bombs, over-long integers, NaN, control and
non-UTF-8 bytes, duplicated keys) and its outcome is classed as accepted,
refused (a Gauntlet error of one line) or crashed (anything else: a traceback
at the shell, a 500 on the web). The web app gets the same bodies over HTTP,
where anything 5xx is a crash. Prints one table; exits 1 if anything crashed.

Usage: PYTHONPATH=src .venv/bin/python benchmarks/fuzz_inputs.py [--cases 1500] [--seed 2026]
"""

from __future__ import annotations

import argparse
import json
import random
import struct
import sys
import tempfile
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.table import Table

from gauntlet.console import progress_bar
from gauntlet.errors import GauntletError

SPEC = (Path(__file__).resolve().parents[1] / "examples" / "k-sovereign-2026.toml").read_text()
VOTES_CSV = "model_a,model_b,winner\nm0,m1,model_a\nm1,m2,tie\nm2,m0,model_b\nm0,m2,tie (bothbad)\n"
VOTES_JSONL = "".join(json.dumps({"model_a": a, "model_b": b, "winner": w}) + "\n"
                      for a, b, w in [("m0", "m1", "model_a"), ("m1", "m2", "tie"), ("m2", "m0", "model_b")])
DECISION = json.dumps({
    "weights": {"benchmark": 40, "expert": 35, "user": 25}, "eliminate_lowest": 1, "resources": {"H100": 64},
    "teams": [{"team": t, "benchmark": b, "expert": 70.0, "user": 60.0, "independence": "independent"}
              for t, b in (("a", 80.0), ("b", 75.0), ("c", 60.0))]})
HEADER = json.dumps({"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
                     "__metadata__": {"format": "pt"}})
INJECTIONS = [b"[" * 5000, b"{\"a\":" * 3000, b"9" * 5000, b"NaN", b"Infinity", b"\xff\xfe", b"\x00",
              b"\"", b"\\", b"\n", b"-" * 40, b"1e999", b"\"dtype\":\"F32\"", b"{\"w\":1,\"w\":2}", b"]" * 50]


def mutate(seed: bytes, rng: random.Random) -> bytes:
    data = bytearray(seed)
    for _ in range(rng.randint(1, 4)):
        kind = rng.randrange(5)
        at = rng.randint(0, len(data))
        if kind == 0 and data:
            data[rng.randrange(len(data))] = rng.randrange(256)
        elif kind == 1:
            data[at:at] = rng.choice(INJECTIONS)
        elif kind == 2:
            del data[at:]
        elif kind == 3 and data:
            end = min(len(data), at + rng.randint(1, 20))
            data[at:at] = data[at:end] * rng.randint(2, 50)
        else:
            data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
    return bytes(data)


def _safetensors(body: bytes) -> bytes:
    return struct.pack("<Q", len(body)) + body + bytes(16)


def readers(tmp: Path):
    from gauntlet import spec
    from gauntlet.artifacts.safetensors_io import read_header
    from gauntlet.ratings.votes import read_votes
    from gauntlet.rounds.decisions import decide, read_json

    def via_file(name, read):
        def run(data: bytes):
            path = tmp / name
            path.write_bytes(data)
            return read(path)
        return run

    return {
        "safetensors header": (HEADER.encode(), via_file("m.safetensors", read_header), _safetensors),
        "challenge spec (TOML)": (SPEC.encode(), via_file("s.toml", spec.load), None),
        "votes (CSV)": (VOTES_CSV.encode(), via_file("v.csv", read_votes), None),
        "votes (JSONL)": (VOTES_JSONL.encode(), via_file("v.jsonl", read_votes), None),
        "decision inputs (JSON)": (DECISION.encode(), via_file("d.json", lambda p: decide(read_json(p))), None),
    }


def web_reader(tmp: Path):
    from fastapi.testclient import TestClient

    from gauntlet.web.app import create_app

    client = TestClient(create_app(f"sqlite:///{tmp / 'web.sqlite'}"), raise_server_exceptions=False)
    csrf = client.get("/login").text.split('name="csrf" value="')[1].split('"')[0]

    def run(data: bytes):
        reply = client.post("/login", content=data, headers={"content-type": "application/json", "accept": "application/json",
                                                               "x-csrf-token": csrf})
        if reply.status_code >= 500:
            raise RuntimeError(f"HTTP {reply.status_code}")
        if reply.status_code >= 400:
            raise GauntletError(reply.json()["error"])
        return reply
    return run


def reason_of(message: str) -> str:
    """A refusal's class, for the table: the words after the location."""
    text = message.split(": ")[-1] if ": " in message else message
    for needle in ("levels deep", "digits", "not UTF-8", "invalid JSON", "invalid TOML", "not a number",
                   "duplicate", "header", "data_offsets", "shape", "dtype", "column", "expected", "winner",
                   "larger than", "CSRF", "token", "fields", "no votes", "empty", "unknown"):
        if needle in message:
            return needle
    return text[:30]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="gauntlet-fuzz-"))
    table = Table(title=f"fuzz: {args.cases} mutated inputs per reader (seed {args.seed})", title_justify="left")
    for column in ("reader", "accepted", "refused", "crashed", "top refusals"):
        table.add_column(column)
    crashes: list[str] = []
    targets = {name: (seed, run, wrap) for name, (seed, run, wrap) in readers(tmp).items()}
    targets["web JSON body (POST /login)"] = (b'{"token": "gt_x"}', web_reader(tmp), None)
    total = 0
    with progress_bar() as bar:
        task = bar.add_task("fuzz", total=args.cases * len(targets))
        for name, (seed, run, wrap) in targets.items():
            outcomes, reasons = Counter(), Counter()
            for _ in range(args.cases):
                data = mutate(seed, rng)
                try:
                    run(wrap(data) if wrap else data)
                    outcomes["accepted"] += 1
                except GauntletError as exc:
                    if "\n" in str(exc):
                        crashes.append(f"{name}: a refusal of more than one line: {str(exc)[:120]!r}")
                    outcomes["refused"] += 1
                    reasons[reason_of(str(exc))] += 1
                except Exception as exc:  # noqa: BLE001 - counting exactly these is the point
                    outcomes["crashed"] += 1
                    crashes.append(f"{name}: {type(exc).__name__}: {str(exc)[:160]} <- {data[:60]!r}")
                total += 1
                bar.advance(task)
            top = ", ".join(f"{r} {n}" for r, n in reasons.most_common(4))
            table.add_row(name, str(outcomes["accepted"]), str(outcomes["refused"]), str(outcomes["crashed"]), top)
    console = Console()
    console.print(table)
    console.print(f"{total} inputs tried, {len(crashes)} crashes")
    for line in crashes[:20]:
        console.print(f"  {line}", markup=False)
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
