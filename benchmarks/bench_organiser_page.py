"""The organisers' console page on the demo's store, side by side in one run.

Usage: python benchmarks/bench_organiser_page.py [--workdir DEMO_DIR] [--loads 15]

Without --workdir a demo is played first (`gauntlet demo --scale 0.2` into a
temporary folder).  On a copy of its store, three pages are loaded `--loads`
times each, interleaved, through the app in this process:

- `/organiser` as it is served: the arena's vote review and the panel's scores
  are remembered until a vote, an answer or a review is added;
- `/organiser` with that memory cleared before each load: every load redoes
  the vote review (every rule over the whole vote log) and the panel bootstrap,
  as every load did before;
- `/`, the public leaderboard, as the floor of this stack.

It prints the median and best time of each and the ratios to the floor.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, help="A finished `gauntlet demo` folder (default: play one).")
    parser.add_argument("--loads", type=int, default=15)
    args = parser.parse_args()

    from fastapi.testclient import TestClient

    from gauntlet.store.repository import Store
    from gauntlet.web.app import create_app

    scratch = Path(tempfile.mkdtemp(prefix="bench-organiser-"))
    demo = args.workdir
    if demo is None:
        demo = scratch / "demo"
        subprocess.run([str(Path(sys.executable).parent / "gauntlet"), "demo", "--workdir", str(demo), "--scale", "0.2"],
                       check=True, stdout=subprocess.DEVNULL)
    shutil.copyfile(demo / "gauntlet.sqlite", scratch / "gauntlet.sqlite")
    url = f"sqlite:///{scratch / 'gauntlet.sqlite'}"
    store = Store(url)
    slug = store.challenges()[0]["slug"]
    token = store.create_token(slug, "organiser", label="benchmark", at=datetime.now(timezone.utc))
    app = create_app(url, workspace=scratch)
    client = TestClient(app)
    client.headers["Accept"] = "text/html"
    signed = {"Authorization": f"Bearer {token}"}

    def forget() -> None:
        app.state.__dict__.pop("organiser_memo", None)

    cases = {
        "/organiser (served)": (lambda: None, "/organiser", signed),
        "/organiser (no memory)": (forget, "/organiser", signed),
        "/ (floor)": (lambda: None, "/", {}),
    }
    for _, path, headers in cases.values():  # compile templates, warm caches
        assert client.get(path, headers=headers).status_code == 200, path
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.loads):
        for name, (before, path, headers) in cases.items():
            before()
            start = time.perf_counter()
            response = client.get(path, headers=headers)
            times[name].append(time.perf_counter() - start)
            assert response.status_code == 200, (path, response.status_code)

    floor = statistics.median(times["/ (floor)"])
    print(f"{'page':<26}{'median ms':>11}{'best ms':>9}{'x floor':>9}")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:<26}{median * 1000:>11.0f}{min(values) * 1000:>9.0f}{median / floor:>9.2f}")
    served, cold = (statistics.median(times[n]) for n in ("/organiser (served)", "/organiser (no memory)"))
    print(f"served / no memory: {served / cold:.2f}x the time")
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
