"""Training: the decision rule it simulates is the one the engine applies."""

import pytest

from reunite.matching import ChildClaim, claim_from_dict
from reunite.matching.evaluate import evaluate, without_birth_date
from reunite.matching.generate import generate
from reunite.matching.train import THRESHOLDS, UNDATED_OFFSETS, _decisions, train


def test_an_undated_claim_needs_the_offset_less() -> None:
    scored = {"c-1": [(18.5, "p-1", "1")], "c-2": [(18.5, "p-2", "1")]}
    truth = {("c-1", "p-1", "1")}
    # c-1 has no birth date: with a 1-bit offset its 18.5 passes a 19-bit threshold; c-2
    # (dated, no true link) stays below it, so no false alarm.
    assert _decisions(scored, truth, 19.0, 2.0, {"c-1"}, 1.0) == (1.0, 0.0)
    assert _decisions(scored, truth, 19.0, 2.0, {"c-1"}, 0.0) == (0.0, 0.0)
    # the same offset does not help a dated claim
    f1, alarms = _decisions(scored, truth, 19.0, 2.0, {"c-2"}, 1.0)
    assert f1 == 0.0
    assert alarms == 1.0


@pytest.fixture(scope="module")
def labelled() -> tuple[list, set[tuple[str, str, str]]]:
    raw, links = generate(1500, 300, seed=23)
    return [claim_from_dict(c) for c in raw], set(links)


def test_training_reports_what_the_engine_then_does(labelled: tuple[list, set[tuple[str, str, str]]]) -> None:
    claims, truth = labelled
    model, report = train(claims, truth)
    assert model.threshold in THRESHOLDS
    assert model.undated_offset in UNDATED_OFFSETS
    assert report["fa_with_dob"] <= 0.002
    assert report["fa_without_dob"] <= 0.015
    # The engine, deciding with the trained parameters, finds exactly what training counted.
    dated = evaluate(claims, truth, model)
    undated = evaluate([without_birth_date(c) if isinstance(c, ChildClaim) else c for c in claims], truth, model)
    assert dated["f1"] == report["f1_with_dob"]
    assert dated["false_alarm_rate"] == report["fa_with_dob"]
    assert undated["f1"] == report["f1_without_dob"]
    assert undated["false_alarm_rate"] == report["fa_without_dob"]
    assert dated["f1"] > 0.9
