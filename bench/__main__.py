"""`python -m bench` (`make bench`): run every benchmark, print one report, write
bench/results.md. The production stack (bench/stack.py, bench/queries.py) first, then the
pages and jobs over a year of data (bench/year.py), then the card guard's overhead
(bench/cardguard.py). Every target is a ratio against a baseline measured in the same run."""

import os
import platform
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import django

from bench import cardguard, stack, year
from bench.queries import query_counts


def machine() -> list[str]:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next(
        (line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")),
        platform.processor(),
    )
    postgres = subprocess.run(["psql", "--version"], capture_output=True, text=True)  # noqa: S607
    return [
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M UTC}",
        f"- machine: {os.cpu_count()} CPUs ({cpu}), {platform.platform()}",
        f"- Python {platform.python_version()}, Django {django.get_version()}, "
        f"{postgres.stdout.strip() or 'PostgreSQL'}, Redis",
        "- shared machine: other processes were running; ratios are measured in the same run",
    ]


def main() -> None:
    started = time.monotonic()
    figures, counts = stack.run(), query_counts()
    busy = year.run(stack.REDIS_URL)
    sizes = ", ".join(f"{n:,} {what.replace('_', ' ')}" for what, n in year.YEAR.items())
    report = (
        "\n".join(
            [
                "# Benchmarks",
                "",
                *machine(),
                "",
                "## Production stack (gunicorn, 2 workers, PostgreSQL, Redis, loopback)",
                "",
                *stack.table(figures, counts),
                "",
                "## A year of orders (PostgreSQL, in process, production settings)",
                "",
                f"A busy year ({sizes}; filled in {busy['fill']['year']:.0f} s) against 1 % of "
                "it: each page's median time at a year ÷ its median time at 1 %, with its SQL "
                "queries (bench/year.py).",
                "",
                *year.table(busy),
                "",
            ]
        )
        + "\n"
        + cardguard.run().replace("# Card guard benchmark", "## Card guard overhead", 1)
    )
    report += f"\n`make bench` took {(time.monotonic() - started) / 60:.1f} minutes.\n"
    print(report)
    cardguard.RESULTS.write_text(report)
    print(f"Written to {cardguard.RESULTS}")


main()
