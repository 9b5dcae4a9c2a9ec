"""What the benchmark scripts share: interleaved timing rounds, their spread and Markdown output.

Not a benchmark (``run_all.py`` does not run it). Each script prints a plain-text report by
default; with ``--markdown`` it prints a section body for ``benchmarks/RESULTS.md`` instead: one
line on the setup, the table, and the script's hand-written "how to read this" paragraph, which
``run_all.py`` places under the section's heading and command.
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable, Sequence


def add_markdown_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--markdown",
        action="store_true",
        help="print a Markdown section (setup, table, how to read it) for run_all.py",
    )


def interleaved_timings(
    runners: dict[str, Callable[[], float]], repeats: int
) -> dict[str, list[float]]:
    """Calls every runner (each returns the seconds it measured) once per round, the rounds
    interleaved so that slow phases of a shared machine hit all of them alike; returns every
    runner's measurements."""
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    seconds: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(repeats):
        for name, run in runners.items():
            seconds[name].append(run())
    return seconds


def interleaved_medians(runners: dict[str, Callable[[], float]], repeats: int) -> dict[str, float]:
    """The median of each runner's :func:`interleaved_timings`."""
    timings = interleaved_timings(runners, repeats)
    return {name: statistics.median(values) for name, values in timings.items()}


def spread(values: Sequence[float], fmt: str = "{:.0f}") -> str:
    """``min / median / max`` of ``values``."""
    ordered = sorted(values)
    return " / ".join(fmt.format(v) for v in (ordered[0], statistics.median(ordered), ordered[-1]))


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]], left: int = 1) -> str:
    """A Markdown table; the first ``left`` columns left-aligned, the (numeric) others right."""
    lines = [
        "| " + " | ".join(header) + " |",
        "| " + " | ".join(["---"] * left + ["---:"] * (len(header) - left)) + " |",
    ]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def print_markdown(setup: str, table: str, reading: str) -> None:
    """The section body run_all.py expects: setup line(s), the table, how to read it."""
    print(f"{setup.strip()}\n\n{table.strip()}\n\n{reading.strip()}")


def ours_vs_keras(
    first_column: str,
    rows: Sequence[tuple[str, float | Sequence[float], float | Sequence[float]]],
    target: float,
):
    """The table (name, ours ms, Keras ms, ratio) of ``rows`` of (name, ours ms, Keras ms), and a
    sentence saying which rows, if any, are slower than ``target`` times Keras. A time is either
    one number (a median) or every round's measurement, shown as min / median / max; the ratio
    and the sentence use medians."""

    def median(value) -> float:
        return value if isinstance(value, int | float) else statistics.median(value)

    def shown(value) -> str:
        return f"{value:.2f}" if isinstance(value, int | float) else spread(value, "{:.2f}")

    rounds = any(not isinstance(v, int | float) for _, a, b in rows for v in (a, b))
    unit = " (min / median / max)" if rounds else ""
    ratios = [(name, median(a) / median(b)) for name, a, b in rows]
    table = markdown_table(
        [first_column, f"ours ms{unit}", f"Keras ms{unit}", "ours / Keras"],
        [
            [name, shown(a), shown(b), f"{ratio:.2f}"]
            for (name, a, b), (_, ratio) in zip(rows, ratios, strict=True)
        ],
    )
    over = [name for name, ratio in ratios if ratio > target]
    verdict = f"Over the {target}x target: {', '.join(over)}." if over else ""
    return table, verdict or f"All within the {target}x target."
