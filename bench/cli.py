"""Benchmark the ``oar`` command line's start-up against a bare click group, side by side.

The Slack bot runs one ``oar`` process per command, so start-up is what a person waits
for. Three commands, each run ``--runs`` times in fresh interpreters, alternating so load
on a shared machine hits all of them alike; the median wall time of each and the ratios:

* baseline: a bare click group with one ``hello`` command, ``--help``;
* ``oar --help`` (goal: at most 5x the baseline and 0.3 s on an idle machine);
* ``oar -r 4.19.3 status`` on SQLite, the release already tracked (goal: 0.8 s idle).

    python bench/cli.py [--runs 11]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "src"), str(REPO)]

BASELINE = """
import click

@click.group()
def cli():
    "A bare click group."

@cli.command()
def hello():
    "Say hello."
    click.echo("hello")

cli()
"""


async def track_release(env: dict[str, str]) -> None:
    """Create the seed release's record in the benchmark's SQLite database."""
    from oar.db import Database
    from oar.integrations.fakes import FakeBuildData
    from oar.release.configstore import ConfigStore
    from oar.release.state import ReleaseState
    from oar.release.versions import ReleaseVersion
    from oar.sandbox import seed
    from oar.settings import load_settings

    settings = load_settings(environ=env)
    settings.ensure_database_dir()
    version = ReleaseVersion.parse(seed.RELEASE)
    config = await ConfigStore.load(
        settings, version, build_data=FakeBuildData(seed.build_data_files())
    )
    async with Database(settings.database_url) as db:
        await db.upgrade()
        await ReleaseState(db).ensure_release(version, config.metadata())


def timed(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11)
    args = parser.parse_args()

    from oar.sandbox import releaseconfig, seed

    with tempfile.TemporaryDirectory(prefix="oar-bench-cli-") as tmp:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("OAR_", "SLACK_"))},
            **releaseconfig.write_config(Path(tmp) / "config"),
            "OAR_DATA_DIR": tmp,
            "PYTHONPATH": str(REPO / "src"),
        }
        asyncio.run(track_release(env))
        python = sys.executable
        commands = {
            "click hello --help (baseline)": [python, "-c", BASELINE, "--help"],
            "oar --help": [python, "-m", "oar.cli.oar", "--help"],
            f"oar -r {seed.RELEASE} status": [
                python,
                "-m",
                "oar.cli.oar",
                "-r",
                seed.RELEASE,
                "status",
            ],
        }
        for argv in commands.values():  # warm the file cache and bytecode
            timed(argv, env)
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, argv in commands.items():
                times[name].append(timed(argv, env))

    load = os.getloadavg()[0]
    medians = {name: statistics.median(values) for name, values in times.items()}
    baseline = medians["click hello --help (baseline)"]
    goals = {"oar --help": 0.3, f"oar -r {seed.RELEASE} status": 0.8}
    print(
        f"{args.runs} runs each, median wall time; load average {load:.2f} on {os.cpu_count()} CPUs"
    )
    print(f"{'command':<34} {'median s':>9} {'min s':>7} {'x baseline':>11} {'goal s':>7}")
    for name, median in medians.items():
        goal = goals.get(name)
        print(
            f"{name:<34} {median:>9.3f} {min(times[name]):>7.3f} {median / baseline:>11.2f}"
            f" {'' if goal is None else f'{goal:.1f}':>7}"
        )


if __name__ == "__main__":
    main()
