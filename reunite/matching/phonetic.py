"""Katakana ↔ Latin phonetic keys for Western names (ジョン ≈ John, スミス ≈ Smith).

Japanese renders foreign names by ear: consonant clusters get epenthetic vowels (スミス
``sumisu``), ``l`` and ``r`` merge, ``v`` becomes ``b``, ``th`` becomes ``s`` or ``t`` and
post-vocalic ``r`` vanishes (ピーター for Peter). The key here is a *consonant skeleton*
that survives those changes: vowels are dropped (a leading vowel is kept as ``a``), the
merged consonant classes are folded and doubled letters collapse. English spelling is
first rewritten towards pronunciation (``ph``→``f``, silent ``gh``, soft ``c``/``g``);
ambiguous spellings (``th``, ``ch``, soft ``g``) yield several variant keys.
"""

from __future__ import annotations

import re
from functools import lru_cache

from reunite.matching.normalise import (
    char_script,
    kana_to_romaji,
    nfkc,
    strip_diacritics,
)

_VOWELS = frozenset("aeiou")
_JAPANESE_ROMAJI = re.compile(
    r"^(?:(?:[kgsztdnhbpmr]y?|sh|ch|j|ts|f|y|w)?(?:oh(?![aiueo])|[aiueo])"
    r"|n(?![aiueoy])|([kgstdbpcfjs])(?=\1))+$"
)

_ENGLISH_RULES = [
    (re.compile(r"^kn"), "n"),
    (re.compile(r"^wr"), "r"),
    (re.compile(r"^wh"), "w"),
    (re.compile(r"sch"), "sh"),
    (re.compile(r"tch"), "ch"),
    (re.compile(r"tth"), "th"),
    (re.compile(r"ph"), "f"),
    (re.compile(r"gh"), ""),
    (re.compile(r"ck"), "k"),
    (re.compile(r"dg"), "j"),
    (re.compile(r"mb$"), "m"),
    (re.compile(r"dt$"), "t"),
    (re.compile(r"x"), "kS"),  # capital: the s does not join a following h (Foxham)
    (re.compile(r"qu?"), "k"),
    (re.compile(r"^ch(?=[rl])"), "k"),
    (re.compile(r"chael"), "kael"),
    # A soft c is s in English and French and ch in Italian (Lucia ルチア, Marcello マルチェロ):
    # marked here, both variants below.
    (re.compile(r"c(?=[eiy])"), "ç"),
    (re.compile(r"c(?!h)"), "k"),
    # ng is one nasal (King キング), except before a soft g (Angela アンジェラ).
    (re.compile(r"ng(?![eiy])"), "n"),
    (re.compile(r"(?<=a)l(?=k)"), ""),
    (re.compile(r"(?<=[aeiou])re$"), ""),
]
# Non-rhotic English: an r before a consonant or at the end is not heard (マーティン, ピーター).
# Names from rhotic languages keep it (ガルシア for Garcia), so both variants are keys.
_NON_RHOTIC = re.compile(r"(?<=[aeiouy])r+(?=[^aeiouy]|$)")
_SILENT_H = re.compile(r"(?<=[aeiou])h(?=[aeiou])")
_FRENCH_OI = re.compile(r"oi[sxt]?$")
_FRENCH_ARD = re.compile(r"(?<=[aeiou]r)d$")
# A final s is silent in French (Nicolas ニコラ, Jacques ジャック, Charles シャルル), and a
# final "ille" after a consonant is said "iyu" (Camille カミーユ). Long names only: the
# skeletons of short names are short already (Lucas would become Luke, Thomas Sam). In a
# name that ends the French way, ch is sh (Charles).
_FRENCH_S = re.compile(r"(?<=a)s$|(?<=[^aeiou])es$")
_FRENCH_ILLE = re.compile(r"(?<=[^aeiou]i)lle$")
_LAST_RULES = [
    (re.compile(r"(?<=[aeiou])[wh](?![aeiou])"), ""),
    (re.compile(r"(?<=.)y"), "i"),
]


def looks_japanese(text: str) -> bool:
    """Return whether a Latin token can be read as Hepburn/Kunrei romaji of Japanese syllables."""
    s = strip_diacritics(nfkc(text)).lower()
    s = "".join(c for c in s if "a" <= c <= "z")
    return bool(s) and _JAPANESE_ROMAJI.match(s) is not None


def _expand(word: str, pattern: str, options: tuple[str, ...]) -> list[str]:
    """Return ``word`` with every ``pattern`` replaced by each option in turn."""
    if pattern not in word:
        return [word]
    return [word.replace(pattern, opt) for opt in options]


def _skeleton(romaji: str) -> str:
    """Fold a pronunciation-like spelling to its consonant skeleton."""
    s = romaji.replace("sh", "s").replace("tch", "ch").replace("ch", "c").replace("ng", "n").lower()
    s = s.replace("l", "r").replace("v", "b").replace("z", "s").replace("q", "k")
    out: list[str] = []
    for i, ch in enumerate(s):
        if ch in _VOWELS:
            if i == 0:
                out.append("a")
            continue
        if ch in "yw" and i > 0:
            continue
        # An h right after an initial consonant is not heard (Rhonda ロンダ, Khan カーン); one
        # after a consonant further on starts a syllable (Foxham フォックスハム, Eastham).
        if ch == "h" and i == 1 and s[0] not in _VOWELS:
            continue
        if ch == "w" and i == 0:
            out.append("a")
            continue
        out.append(ch)
    collapsed: list[str] = []
    for ch in out:
        # A nasal before b or p is one sound (Hambrook, ハンブルク or ハムブルック).
        if ch in "bp" and collapsed and collapsed[-1] == "m":
            collapsed[-1] = "n"
        if not collapsed or collapsed[-1] != ch:
            collapsed.append(ch)
    return "".join(collapsed)


@lru_cache(maxsize=65536)
def phonetic_keys(text: str) -> tuple[str, ...]:
    """Return the phonetic skeleton variants of a katakana or Latin name token.

    >>> "jn" in phonetic_keys("ジョン") and "jn" in phonetic_keys("John")
    True
    """
    s = nfkc(text)
    if any(char_script(c) == "kanji" for c in s):
        return ()
    if any(char_script(c) == "kana" for c in s):
        return (_skeleton(kana_to_romaji(s)),)
    s = strip_diacritics(s).lower().replace("ß", "ss")
    s = "".join(c for c in s if "a" <= c <= "z")
    if not s:
        return ()
    # An initial wh is h+w to a Japanese ear: White ホワイト, Whitney ホイットニー.
    wh = s.startswith("wh")
    spelled_length = len(s)
    for pattern, repl in _ENGLISH_RULES:
        s = pattern.sub(repl, s)
    words = list(dict.fromkeys((_NON_RHOTIC.sub("", s), s)))
    # French spellings keep their rhotic form and lose the silent ending: Dubois デュボワ,
    # Bernard ベルナール. Silent d, s and "ille" endings are dropped from names of seven
    # letters or more only: Gerard without its d would have the skeleton of Jerry.
    french = _FRENCH_OI.sub("wa", s)
    if spelled_length >= 7:
        french = _FRENCH_ARD.sub("ar", french)
        ending = _FRENCH_ILLE.sub("iye", _FRENCH_S.sub("", french))
        if ending != french:
            french = ending.replace("ch", "sh")
    if french != s:
        words.append(french)
    for pattern, repl in _LAST_RULES:
        words = [pattern.sub(repl, w) for w in words]
    # The sounds chosen for th and ch are written in capitals so that the skeleton does not
    # read them again with a following h: Richham is Rich-ham (リッチハム), not Ri-cham.
    words = [v for w in words for v in _expand(w, "th", ("S", "T"))]
    words = [v for w in words for v in _expand(w, "ch", ("C", "K", "S"))]
    words = [v for w in words for v in _expand(w, "ge", ("je", "ge"))]
    words = [v for w in words for v in _expand(w, "gi", ("ji", "gi"))]
    words = [v for w in words for v in _expand(w, "ç", ("s", "ch"))]
    # Campbell キャンベル drops its p; a compound (Shepbury シェップベリー) keeps it.
    words = [v for w in words for v in _expand(w, "pb", ("b", "pb"))]
    if wh:
        words += ["h" + w for w in words]
    # A t before a "yoo" sound becomes チュ: Stewart スチュワート, Stuart スチュアート.
    words = [v for w in words for v in _expand(w, "stew", ("stew", "schew"))]
    words = [v for w in words for v in _expand(w, "stu", ("stu", "schu"))]
    # Stephen is said Steven (スティーブン); Stefan keeps its f (ステファン).
    words = [v for w in words for v in _expand(w, "stefen", ("stefen", "steven"))]
    # An h between vowels may be silent: Graham is グレアム as often as グラハム, Johanna ジョアンナ.
    words += [silent for w in words if (silent := _SILENT_H.sub("", w)) != w]
    keys = dict.fromkeys(_skeleton(w) for w in words)
    return tuple(k for k in keys if k)


def phonetic_match(a: str, b: str) -> bool:
    """Return whether two tokens share a phonetic key (for cross-script foreign names)."""
    return not set(phonetic_keys(a)).isdisjoint(phonetic_keys(b))


@lru_cache(maxsize=65536)
def initial_vowel_keys(text: str) -> tuple[str, ...]:
    """Keys of a name whose skeleton is an initial vowel and one consonant, with its first letter.

    ``an`` stands for Ann, Anna, Ian, Owen and Wen alike, too little to relate a nickname
    (Wen, of Wendy) to a katakana name (アンナ); the first letter keeps Ed ≈ エド and
    Wen ≈ ウェン but not Wen ≈ アンナ.
    """
    keys = [k for k in phonetic_keys(text) if len(k) == 2 and k[0] == "a"]
    if not keys:
        return ()
    s = _spelled(text)
    return tuple(f"{k}^{s[0]}" for k in keys) if s else ()


def _spelled(text: str) -> str:
    """A name in plain lower-case Latin letters (kana as romaji), marks removed."""
    s = nfkc(text)
    if any(char_script(c) == "kana" for c in s):
        s = kana_to_romaji(s)
    return strip_diacritics(s).lower()


def short_name_keys(text: str) -> tuple[str, ...]:
    """Keys of a name whose skeleton is one consonant, with its first vowel: ``j~o`` for ジョー and Joe.

    One consonant alone says too little (ジョー, ジェイ and Joy would agree), so such names
    are compared by consonant and vowel; longer skeletons give no key here. Name tokens
    carry these keys (``Token.short``), computed once when the token is made.
    """
    keys = [k for k in phonetic_keys(text) if len(k) == 1]
    if not keys:
        return ()
    s = _spelled(text)
    vowel = next((c for c in s[1:] if c in _VOWELS), "")
    return tuple(f"{k}~{vowel}" for k in keys) if vowel else ()
