"""`python -m bench` (`make bench`): run every benchmark, print one report, write
bench/results.md. The production stack (bench/stack.py, bench/queries.py) first, then the
card guard's overhead (bench/cardguard.py)."""

import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import django

from bench import cardguard, stack
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
    figures, counts = stack.run(), query_counts()
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
            ]
        )
        + "\n"
        + cardguard.run().replace("# Card guard benchmark", "## Card guard overhead", 1)
    )
    print(report)
    cardguard.RESULTS.write_text(report)
    print(f"Written to {cardguard.RESULTS}")


main()
