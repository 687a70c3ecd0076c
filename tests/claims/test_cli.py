"""`flask reunite import` / `export`: line-numbered errors, savepoints, idempotent round trips."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from reunite.claims import services
from reunite.claims.models import Claim, ClaimRevision
from reunite.errors import Invalid
from reunite.extensions import db
from tests.claims.conftest import CHILD_EXAMPLE, PARENT_EXAMPLE

FAMILIES = ["田中", "佐藤", "Suzuki", "高橋", "Watanabe", "伊藤"]
GIVEN = ["ゆき", "はると", "Emma", "Liam", "さくら", "Ren"]


def count(model: Any) -> int:
    return int(db.session.scalar(select(func.count()).select_from(model)) or 0)


def generated(n: int) -> list[dict[str, Any]]:
    """n varied, valid claims (alternating parent and child), deterministic."""
    out: list[dict[str, Any]] = []
    for i in range(n):
        family, given = FAMILIES[i % len(FAMILIES)], GIVEN[(i * 5) % len(GIVEN)]
        if i % 2:
            out.append(
                {
                    "id": f"gen-c-{i}",
                    "role": "child",
                    "claimant": {"names": [{"family": family, "given": given}], "birth_date": f"{2005 + i % 12}"},
                    "sought_parent": {"names": [{"given": GIVEN[i % len(GIVEN)]}]},
                    "separated_on": f"{2015 + i % 8}-{1 + i % 12:02d}",
                    "languages": ["ja"],
                }
            )
        else:
            out.append(
                {
                    "id": f"gen-p-{i}",
                    "role": "parent",
                    "claimant": {"names": [{"full": f"Parent {i}"}], "sex": "MF"[i % 4 // 2], "nationalities": ["US"]},
                    "children": [
                        {
                            "ref": str(k + 1),
                            "names": [{"family": family, "given": given}],
                            "birth_date": f"{2008 + k}-{1 + (i + k) % 12:02d}-{1 + i % 28:02d}",
                        }
                        for k in range(1 + i % 3)
                    ],
                    "last_known_place": {"city": "大阪", "country": "JP"},
                }
            )
    return out


def write_jsonl(path: Path, objs: list[Any]) -> Path:
    path.write_text("".join(json.dumps(o, ensure_ascii=False) + "\n" for o in objs), encoding="utf-8")
    return path


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def run(runner: Any, *args: str) -> Any:
    return runner.invoke(args=["reunite", *args])


def test_import_export_import_round_trip(runner: Any, tmp_path: Path) -> None:
    claims = [PARENT_EXAMPLE, CHILD_EXAMPLE, *generated(30)]
    source = write_jsonl(tmp_path / "in.jsonl", claims)
    out = run(runner, "import", str(source))
    assert out.exit_code == 0, out.output
    assert "imported 32, unchanged 0, failed 0" in out.output
    assert count(Claim) == 32
    assert db.session.scalar(select(func.count()).where(Claim.owner_id.is_not(None))) == 0

    exported = tmp_path / "out.jsonl"
    out = run(runner, "export", str(exported))
    assert out.exit_code == 0, out.output
    assert read_jsonl(exported) == claims  # the examples and generated claims are already canonical

    out = run(runner, "import", str(exported))
    assert out.exit_code == 0, out.output
    assert "imported 0, unchanged 32, failed 0" in out.output
    assert count(Claim) == 32
    assert count(ClaimRevision) == 32
    assert set(db.session.scalars(select(Claim.version))) == {1}


def test_a_bad_line_is_reported_skipped_and_the_rest_imports(runner: Any, tmp_path: Path) -> None:
    bad = copy.deepcopy(PARENT_EXAMPLE)
    bad["id"] = "bad-date"
    bad["children"][0]["birth_date"] = "2012-02-30"
    lines = [PARENT_EXAMPLE, CHILD_EXAMPLE, bad, *generated(2)]
    out = run(runner, "import", str(write_jsonl(tmp_path / "in.jsonl", lines)))
    assert out.exit_code == 1
    assert "line 3: children[0].birth_date: " in out.output
    assert "imported 4, unchanged 0, failed 1" in out.output
    assert db.session.scalars(select(Claim).where(Claim.source_id == "bad-date")).first() is None
    assert count(Claim) == count(ClaimRevision) == 4


def test_a_line_failing_after_it_wrote_leaves_nothing_behind(
    runner: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = services._add_revision

    def failing(claim: Claim, author: Any) -> None:
        real(claim, author)
        db.session.flush()  # the rows are in the database now
        if claim.source_id == "c-2001":
            raise Invalid("simulated failure after writing", field="claimant")

    monkeypatch.setattr(services, "_add_revision", failing)
    out = run(runner, "import", str(write_jsonl(tmp_path / "in.jsonl", [PARENT_EXAMPLE, CHILD_EXAMPLE, *generated(1)])))
    assert out.exit_code == 1
    assert "line 2: claimant: simulated failure" in out.output
    assert sorted(db.session.scalars(select(Claim.source_id))) == ["gen-p-0", "p-1001"]
    assert count(ClaimRevision) == 2


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('{"id": "x", "role": "parent",', "line 2: not valid JSON"),
        ("[1, 2]", "line 2: A claim must be a JSON object."),
        (
            '{"id": "p-1001", "role": "parent", "claimant": {}}',
            "line 2: id: the id 'p-1001' was already used on line 1",
        ),
        (
            '{"id": "x", "role": "child", "claimant": {"names": [{"given": "A"}]}, "pet": 1}',
            "line 2: pet: Unknown field",
        ),
        ('{"role": "child", "claimant": {"names": [{"given": "A"}]}}', "line 2: id: This field is required."),
    ],
)
def test_each_kind_of_bad_line_names_line_and_field(runner: Any, tmp_path: Path, line: str, expected: str) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps(PARENT_EXAMPLE) + "\n" + line + "\n\n", encoding="utf-8")
    out = run(runner, "import", str(source))
    assert out.exit_code == 1
    assert expected in out.output
    assert "imported 1, unchanged 0, failed 1" in out.output
    assert count(Claim) == 1


def test_reimporting_changed_data_makes_a_new_revision(runner: Any, tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [PARENT_EXAMPLE, CHILD_EXAMPLE])
    assert run(runner, "import", str(source)).exit_code == 0
    changed = copy.deepcopy(CHILD_EXAMPLE)
    changed["sought_parent"]["names"].append({"family": "Smith", "kind": "former"})
    out = run(runner, "import", str(write_jsonl(tmp_path / "in2.jsonl", [PARENT_EXAMPLE, changed])))
    assert out.exit_code == 0, out.output
    assert "imported 1, unchanged 1, failed 0 (0 new, 1 updated)" in out.output
    claim = db.session.scalars(select(Claim).where(Claim.source_id == "c-2001")).one()
    assert claim.version == 2
    assert [r.version for r in claim.revisions] == [1, 2]
    assert claim.revisions[0].data["sought_parent"]["names"] == [{"given": "ジョン"}]


def test_app_claims_export_under_their_public_id_and_round_trip(
    runner: Any, tmp_path: Path, make_user: Any, make_claim: Any
) -> None:
    claim = make_claim(make_user("parent").user)
    exported = tmp_path / "out.jsonl"
    assert run(runner, "export", str(exported)).exit_code == 0
    [line] = read_jsonl(exported)
    assert line["id"] == claim.public_id
    out = run(runner, "import", str(exported))
    assert "imported 0, unchanged 1, failed 0" in out.output
    assert count(Claim) == 1


def test_export_to_standard_output(runner: Any, tmp_path: Path) -> None:
    run(runner, "import", str(write_jsonl(tmp_path / "in.jsonl", [CHILD_EXAMPLE])))
    out = runner.invoke(args=["reunite", "export", "-"])
    assert out.exit_code == 0
    assert json.loads(out.stdout.splitlines()[0]) == CHILD_EXAMPLE


@pytest.mark.services
def test_an_import_refreshes_the_planner_statistics_on_postgresql(pg_migrated: str, tmp_path: Path) -> None:
    """Without fresh statistics PostgreSQL scans the whole claim table for the matcher's "changed lately"."""
    import time

    import psycopg

    from reunite import create_app
    from reunite.claims.cli import import_file

    def manual_analyses() -> int:
        with psycopg.connect(pg_migrated, autocommit=True) as conn:
            row = conn.execute("SELECT analyze_count FROM pg_stat_user_tables WHERE relname = 'claim'").fetchone()
        return int(row[0]) if row else 0

    before = manual_analyses()
    path = tmp_path / "claims.jsonl"
    path.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in generated(20)), encoding="utf-8")
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=pg_migrated)
    with app.app_context():
        with path.open(encoding="utf-8") as fh:
            counts, problems = import_file(fh)
        assert problems == []
        assert counts["created"] + counts["unchanged"] == 20
        db.session.remove()
        db.engine.dispose()  # the backend reports its statistics when the connection ends
    deadline = time.monotonic() + 20
    while manual_analyses() <= before:
        assert time.monotonic() < deadline, "the import did not ANALYZE the claim table"
        time.sleep(0.2)
