"""The health score: four dimensions, each 100 minus what its findings cost.

Every finding kind belongs to one dimension and costs points by severity (`findings.KINDS`);
one kind takes at most `findings.KIND_CAP` points off its dimension. The overall score is the
rounded mean of the four dimensions.
"""

from __future__ import annotations

from collections import defaultdict

from stagent.scanner.findings import KIND_CAP
from stagent.scanner.report import DIMENSIONS, Deduction, DimensionScore, Finding, Health


def health(findings: list[Finding]) -> Health:
    """Score ``findings``."""
    points: dict[tuple[str, str], int] = defaultdict(int)
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for f in findings:
        points[(f.dimension, f.kind)] += f.cost
        counts[(f.dimension, f.kind)] += 1
    dimensions: list[DimensionScore] = []
    for name in DIMENSIONS:
        deductions = [
            Deduction(kind=kind, count=counts[(dim, kind)], points=min(KIND_CAP, total))
            for (dim, kind), total in sorted(points.items())
            if dim == name
        ]
        score = max(0, 100 - sum(d.points for d in deductions))
        dimensions.append(DimensionScore(name=name, score=score, deductions=deductions))
    overall = round(sum(d.score for d in dimensions) / len(dimensions))
    return Health(score=overall, dimensions=dimensions)
