"""docs/PERFORMANCE.md from the benchmark results.

A full run rewrites the file. A run of some benchmarks (`--only`) merges: its sections and
summary rows replace those of the same benchmarks, the others are kept as they were, and every
section says which run measured it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bench.common import BenchResult, Figure

ORDER = (
    "streaming",
    "concurrency",
    "browser_concurrency",
    "crowd",
    "open_conversation",
    "parse_chunk",
    "retrieval",
    "retrieval_quality",
    "ingest",
    "admin_pages",
    "memory",
    "soak",
)
_NUMBER = re.compile(r"^(\d+)([a-z]?)\.")
_MARKER = re.compile(r"^<!-- bench: (\S+) -->$")
_STAMP = re.compile(r"Measured on (?P<when>.+?) by `(?P<command>[^`]+)`")


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


@dataclass
class Section:
    """One benchmark's section of the report and its rows in the summary table."""

    title: str
    key: str
    lines: list[str]
    rows: list[str] = field(default_factory=list)

    @property
    def number(self) -> str:
        match = _NUMBER.match(self.title)
        return match.group(0) if match else ""

    def sort_key(self) -> tuple[int, str, int]:
        match = _NUMBER.match(self.title)
        rank = ORDER.index(self.key) if self.key in ORDER else len(ORDER)
        return (int(match.group(1)), match.group(2), rank) if match else (10**6, "", rank)


def _summary_rows(result: BenchResult) -> list[str]:
    rows = [
        f"| {_cell(result.title)} | {_cell(f.label)} | {f.shown()} | {_cell(f.target)} | "
        f"**{f.verdict}** |"
        for f in result.figures
        if f.passed is not None
    ]
    if result.error:
        rows.append(
            f"| {_cell(result.title)} | did not complete | — | — | **MISS** "
            f"({_cell(result.error[:200])}) |"
        )
    return rows


def _section(result: BenchResult, info: RunInfo) -> Section:
    lines = [
        f"## {result.title}",
        "",
        f"<!-- bench: {result.key} -->",
        f"_Measured on {info.started} by `{info.command}`._",
        "",
    ]
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
    return Section(result.title, result.key, lines, _summary_rows(result))


def _parse(report: str) -> tuple[list[Section], str]:
    """The benchmark sections of an earlier report (with their summary rows) and its stamp."""
    stamp = _STAMP.search(report.split("\n## ", 1)[0])
    when = f"_Measured on {stamp['when']} by `{stamp['command']}`._" if stamp else ""
    chunks: list[list[str]] = []
    fenced = False
    for line in report.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        if line.startswith("## ") and not fenced:
            chunks.append([line])
        elif chunks:
            chunks[-1].append(line)
    summary = next((c for c in chunks if c[0] == "## Summary"), [])
    sections = []
    for chunk in chunks:
        title = chunk[0][3:]
        if title in ("Machine", "Summary"):
            continue
        while chunk and not chunk[-1].strip():
            chunk.pop()
        marker = next((m for line in chunk[:4] if (m := _MARKER.match(line))), None)
        if marker is None and when:  # a section from before sections carried their own stamp
            chunk = [chunk[0], "", when, *chunk[1:]]
        prefix = f"| {_cell(title)} |"
        rows = [line for line in summary if line.startswith(prefix)]
        sections.append(Section(title, marker.group(1) if marker else "", chunk, rows))
    return sections, stamp["when"] if stamp else ""


def _kept(previous: str, fresh: list[Section]) -> list[Section]:
    """The earlier sections that this run did not measure again."""
    keys = {s.key for s in fresh}
    numbers = {s.number for s in fresh if s.number}
    titles = {s.title for s in fresh}
    sections, _ = _parse(previous)
    return [
        s
        for s in sections
        if s.key not in keys and s.number not in numbers and s.title not in titles
    ]


def _verdict(rows: list[str]) -> str:
    failed = sum(1 for r in rows if "| did not complete |" in r)
    met = sum(1 for r in rows if r.endswith("| **PASS** |"))
    targeted = met + sum(1 for r in rows if r.endswith("| **MISS** |"))
    verdict = f"{met} of {targeted} targeted figures met"
    if failed:
        verdict += f"; {failed} benchmark(s) did not complete"
    return verdict


def render(results: list[BenchResult], info: RunInfo, previous: str | None = None) -> str:
    """The report of this run; with `previous` (an earlier report) merged into it."""
    fresh = [_section(r, info) for r in results]
    kept = _kept(previous, fresh) if previous else []
    sections = sorted(fresh + kept, key=Section.sort_key)
    rows = [row for section in sections for row in section.rows]
    if kept:
        names = ", ".join(s.number.rstrip(".") or s.title for s in fresh)
        which = f"Section {names} was" if len(fresh) == 1 else f"Sections {names} were"
        about = (
            f"{which} measured on {info.started} by `{info.command}` (which took "
            f"{_duration(info.seconds)}); the others keep the results of earlier runs, as each "
            "section says. A full run rewrites the whole file."
        )
    else:
        about = (
            f"Measured on {info.started} by `{info.command}`; the whole run took "
            f"{_duration(info.seconds)}. This file is rewritten by every full run: the "
            "numbers, targets and verdicts below come from that run only (a run of some "
            "benchmarks replaces just their sections)."
        )
    lines = [
        "# Performance",
        "",
        about,
        "",
        "Run it with `make bench`, or `.venv/bin/python -m bench "
        "[--only stream,concurrency,crowd,open,parse,retrieval,quality,index,chat_import,ingest,"
        "admin,memory,soak] "
        "[--quick]`. Raw results and profiles go to `bench/results/` (not committed).",
        "",
    ]
    if info.quick:
        lines += ["**Quick run (`--quick`)**: fewer repetitions, a smoke test only.", ""]
    lines += [
        f"Result: {_verdict(rows)}.",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        *[f"| {label} | {_cell(value)} |" for label, value in info.machine],
        f"| Load average before / after | {info.load_before} / {info.load_after} |",
        "",
        "The machine may be shared (other test runs, editors); the load average shows how busy "
        "it was. Times are wall-clock." + (" This table describes the latest run." if kept else ""),
        "",
        "## Summary",
        "",
        "| Benchmark | Figure | Value | Target | Result |",
        "|---|---|---|---|---|",
        *rows,
    ]
    for section in sections:
        lines += ["", *section.lines]
    return "\n".join(lines).rstrip() + "\n"
