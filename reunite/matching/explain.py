"""Explanations: each field's contribution in bits and the name forms that matched."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reunite.matching.scoring import FIELDS, Comparison, Model, detail_text


def explain(model: Model, comparisons: Sequence[Comparison], threshold: float | None = None) -> dict[str, Any]:
    """Return a JSON-serialisable explanation of a score.

    ``threshold`` is the threshold that applied to this pair (default: the model's).

    ``fields`` lists every compared field with its level and weight in bits (log2 of the
    likelihood ratio, positive = evidence for a link), strongest evidence first;
    ``matched_forms`` collects the agreeing name/place forms such as ``"ジョン ≈ John"``.
    """
    rows: list[dict[str, Any]] = []
    for c in comparisons:
        field_i, level, _tf, detail = c
        spec = FIELDS[field_i]
        row: dict[str, Any] = {
            "field": spec.name,
            "level": spec.levels[level],
            "bits": round(model.weight(c), 2),
        }
        text = detail_text(detail)
        if text:
            row["detail"] = text
        rows.append(row)
    rows.sort(key=lambda r: -abs(r["bits"]))
    matched = [r["detail"] for r in rows if "≈" in r.get("detail", "") and r["bits"] > 0]
    return {
        "score_bits": round(sum(model.weight(c) for c in comparisons), 2),
        "threshold_bits": model.threshold if threshold is None else threshold,
        "fields": rows,
        "matched_forms": matched,
    }
