"""Record linkage of child claims to the children inside parent claims.

Pure and typed, no Flask or database code. The pipeline is
normalise → block → compare → score → explain:

- :mod:`model` parses claims-v1 dictionaries into frozen dataclasses (``claim_from_dict``);
- :mod:`normalise`, :mod:`phonetic`, :mod:`readings` turn names in kanji, kana and Latin
  script into comparable keys (canonical romaji, katakana↔Latin phonetic skeletons,
  dictionary and name readings of kanji);
- :mod:`blocking` makes short keys shared by a child claim and the right child of a
  parent claim (``blocking_keys``), so the service can store them and fetch candidates;
- :mod:`compare` and :mod:`scoring` compute a Fellegi–Sunter score in bits with
  term-frequency adjustment (``score_pair``); :mod:`explain` says which fields and
  name forms contributed;
- :mod:`index` keeps claims in memory and proposes ranked links in both directions.

Service code should use only the names exported here.
"""

from reunite.matching.index import MatchIndex, Proposal, blocking_keys, blocking_keys_by_child, score_pair
from reunite.matching.model import (
    ChildClaim,
    ChildEntry,
    ClaimFormatError,
    Name,
    ParentClaim,
    Person,
    Place,
    claim_from_dict,
    read_claims,
)
from reunite.matching.scoring import Model, default_model

__all__ = [
    "ChildClaim",
    "ChildEntry",
    "ClaimFormatError",
    "MatchIndex",
    "Model",
    "Name",
    "ParentClaim",
    "Person",
    "Place",
    "Proposal",
    "blocking_keys",
    "blocking_keys_by_child",
    "claim_from_dict",
    "default_model",
    "read_claims",
    "score_pair",
]
