"""Made-up families whose claims match in exactly one child↔parent pair each, and nothing across."""

from __future__ import annotations

from typing import Any

SURNAMES = ("Whitfield", "Okonkwo", "Lindqvist", "Castellano", "Brannigan", "Kowalczyk", "Featherstone", "Achterberg")
MOTHERS = (("Morimoto", "Haruka"), ("Kuwabara", "Chiyo"), ("Ishikawa", "Noriko"), ("Hasegawa", "Fumiko"))
FATHERS = ("Desmond", "Ignatius", "Bartholomew", "Leopold", "Cornelius", "Percival", "Augustin", "Thaddeus")
CHILDREN = ("Marigold", "Rosalind", "Philippa", "Henrietta", "Clementine", "Wilhelmina", "Ottoline", "Georgiana")


def family(n: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The n-th family (n < 32): a parent claim and the child claim that should be linked to it."""
    surname = SURNAMES[n % len(SURNAMES)]
    father = FATHERS[(n // len(SURNAMES) + n) % len(FATHERS)]
    mother_family, mother_given = MOTHERS[n % len(MOTHERS)]
    child = CHILDREN[(n * 3) % len(CHILDREN)]
    born = f"{2005 + n % 10}-{1 + n % 12:02d}-{1 + (n * 7) % 28:02d}"
    parent = {
        "role": "parent",
        "claimant": {"names": [{"family": surname, "given": father}], "sex": "M"},
        "other_parent": {"names": [{"family": mother_family, "given": mother_given}], "sex": "F"},
        "children": [{"ref": "1", "names": [{"family": surname, "given": child}], "sex": "F", "birth_date": born}],
        "separated_on": "2016",
    }
    claimed = {
        "role": "child",
        "claimant": {"names": [{"family": mother_family, "given": child}], "sex": "F", "birth_date": born},
        "sought_parent": {"names": [{"family": surname, "given": father}], "sex": "M"},
        "other_parent": {"names": [{"family": mother_family, "given": mother_given}]},
        "separated_on": "2016",
    }
    return parent, claimed
