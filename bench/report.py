"""docs/PERFORMANCE.md from the benchmark results (rewritten on every run)."""

from __future__ import annotations

from dataclasses import dataclass

from bench.common import BenchResult, Figure

ORDER = (
    "streaming",
    "concurrency",
    "browser_concurrency",
    "open_conversation",
    "parse_chunk",
    "retrieval",
)


@dataclass(frozen=True)
class RunInfo:
    command: str
    started: str  # ISO date and time, UTC
    seconds: float
    machine: list[tuple[str, str]]
    load_before: str
    load_after: str
    quick: bool


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _figure_row(figure: Figure) -> str:
    target = figure.target or "—"
    return (
        f"| {_cell(figure.label)} | {figure.shown()} | {_cell(target)} | "
        f"{f'**{figure.verdict}**' if figure.verdict else ''} |"
    )


def _duration(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s" if minutes else f"{rest} s"


def render(results: list[BenchResult], info: RunInfo) -> str:
    ordered = sorted(results, key=lambda r: ORDER.index(r.key) if r.key in ORDER else len(ORDER))
    targeted = [(r, f) for r in ordered for f in r.figures if f.passed is not None]
    met = sum(1 for _, f in targeted if f.passed)
    failed = sum(1 for r in ordered if r.error)
    verdict = f"{met} of {len(targeted)} targeted figures met"
    if failed:
        verdict += f"; {failed} benchmark(s) did not complete"
    lines = [
        "# Performance",
        "",
        f"Measured on {info.started} by `{info.command}`; the whole run took "
        f"{_duration(info.seconds)}. This file is rewritten by every run: the numbers, targets "
        "and verdicts below come from that run only.",
        "",
        "Run it with `make bench`, or `.venv/bin/python -m bench "
        "[--only stream,concurrency,open,parse,retrieval,ingest] [--quick]`. Raw results and "
        "profiles go to `bench/results/` (not committed).",
        "",
    ]
    if info.quick:
        lines += ["**Quick run (`--quick`)**: fewer repetitions, a smoke test only.", ""]
    lines += [
        f"Result: {verdict}.",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        *[f"| {label} | {_cell(value)} |" for label, value in info.machine],
        f"| Load average before / after | {info.load_before} / {info.load_after} |",
        "",
        "The machine may be shared (other test runs, editors); the load average shows how busy "
        "it was. Times are wall-clock.",
        "",
        "## Summary",
        "",
        "| Benchmark | Figure | Value | Target | Result |",
        "|---|---|---|---|---|",
    ]
    for result, figure in targeted:
        lines.append(
            f"| {_cell(result.title)} | {_cell(figure.label)} | {figure.shown()} | "
            f"{_cell(figure.target)} | **{figure.verdict}** |"
        )
    for result in ordered:
        if result.error:
            lines.append(
                f"| {_cell(result.title)} | did not complete | — | — | **MISS** "
                f"({_cell(result.error[:200])}) |"
            )
    for result in ordered:
        lines += ["", f"## {result.title}", ""]
        if result.method:
            lines += ["How it is measured:", "", *[f"- {m}" for m in result.method], ""]
        if result.figures:
            lines += [
                "| Figure | Value | Target | Result |",
                "|---|---|---|---|",
                *[_figure_row(f) for f in result.figures],
                "",
            ]
        if result.error:
            lines += [f"**Did not complete:** `{_cell(result.error[:500])}`", ""]
        if result.details:
            lines += [*[f"- {d}" for d in result.details], ""]
        for note in result.notes:
            head, _, body = note.partition("\n")
            lines += [head, ""]
            if body:
                lines += ["```text", body.rstrip(), "```", ""]
        lines.append(f"_Benchmark time: {_duration(result.seconds)}._")
    return "\n".join(lines).rstrip() + "\n"
