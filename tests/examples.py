"""The two example claims of claims-v1.md, verbatim: the family every layer of the tests starts from.

Modules take a deep copy (``copy.deepcopy``) before changing anything.
"""

from __future__ import annotations

from typing import Any

SPEC_PARENT: dict[str, Any] = {
    "id": "p-1001",
    "role": "parent",
    "claimant": {"names": [{"family": "Smith", "given": "John"}], "sex": "M", "nationalities": ["US"]},
    "other_parent": {
        "names": [{"family": "田中", "given": "愛子"}, {"family": "Tanaka", "given": "Aiko", "kind": "reading"}],
        "sex": "F",
        "nationalities": ["JP"],
    },
    "children": [
        {
            "ref": "1",
            "names": [{"family": "Smith", "given": "Emma Yuki"}],
            "sex": "F",
            "birth_date": "2012-03-04",
            "birth_place": {"city": "Seattle", "country": "US"},
        }
    ],
    "separated_on": "2016-07",
    "last_known_place": {"city": "Osaka", "country": "JP"},
    "languages": ["en"],
}

SPEC_CHILD: dict[str, Any] = {
    "id": "c-2001",
    "role": "child",
    "claimant": {
        "names": [{"family": "田中", "given": "ゆき"}],
        "sex": "F",
        "birth_date": "2012-03-04",
        "birth_place": {"country": "US"},
    },
    "sought_parent": {"names": [{"given": "ジョン"}], "sex": "M", "nationalities": ["US"]},
    "other_parent": {"names": [{"family": "田中", "given": "愛子"}]},
    "separated_on": "2016",
    "languages": ["ja"],
}
