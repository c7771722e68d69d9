"""The report's table: one row per figure, its target and PASS/MISS."""

from __future__ import annotations

from dataclasses import dataclass

from bench.common import percentile

MB = 1024 * 1024


@dataclass
class Row:
    figure: str
    value: str
    target: str = ""
    ok: bool | None = None  # None: reported for information or comparison

    @property
    def verdict(self) -> str:
        return "" if self.ok is None else ("PASS" if self.ok else "MISS")


def p(values: list[float], q: float) -> float:
    return percentile(values, q)


def secs(a: float, b: float) -> str:
    return f"{a:.2f} / {b:.2f} s"


def table(rows: list[Row]) -> str:
    head = Row("Figure", "Measured", "Target")
    widths = [
        max(len(r.figure) for r in [head, *rows]),
        max(len(r.value) for r in [head, *rows]),
        max(len(r.target) for r in [head, *rows]),
    ]
    lines = []
    for r in [head, *rows]:
        verdict = "Result" if r is head else r.verdict
        lines.append(
            f"{r.figure:<{widths[0]}}  {r.value:>{widths[1]}}  {r.target:<{widths[2]}}  {verdict}"
        )
        if r is head:
            lines.append("-" * len(lines[0]))
    return "\n".join(line.rstrip() for line in lines)
