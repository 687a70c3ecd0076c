"""Text normalisation for names and places: scripts, kana to romaji, canonical romaji keys.

Every romanisation of a Japanese name (Hepburn with or without macrons, passport ``oh``,
Kunrei-shiki, word-processor ``ou``/``oo``) is folded onto one *canonical key*, so that
``Ōno``, ``Ohno``, ``Ono``, ``Oono`` and ``オオノ`` all give ``ono``.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Literal

import jaconv

Script = Literal["kanji", "kana", "latin"]

_KANA_DIGRAPHS: dict[str, str] = {
    "キャ": "kya", "キュ": "kyu", "キョ": "kyo", "シャ": "sha", "シュ": "shu", "ショ": "sho",
    "チャ": "cha", "チュ": "chu", "チョ": "cho", "ニャ": "nya", "ニュ": "nyu", "ニョ": "nyo",
    "ヒャ": "hya", "ヒュ": "hyu", "ヒョ": "hyo", "ミャ": "mya", "ミュ": "myu", "ミョ": "myo",
    "リャ": "rya", "リュ": "ryu", "リョ": "ryo", "ギャ": "gya", "ギュ": "gyu", "ギョ": "gyo",
    "ジャ": "ja", "ジュ": "ju", "ジョ": "jo", "ヂャ": "ja", "ヂュ": "ju", "ヂョ": "jo",
    "ビャ": "bya", "ビュ": "byu", "ビョ": "byo", "ピャ": "pya", "ピュ": "pyu", "ピョ": "pyo",
    "シェ": "she", "ジェ": "je", "チェ": "che", "ティ": "ti", "ディ": "di", "トゥ": "tu",
    "ドゥ": "du", "デュ": "dyu", "テュ": "tyu", "ファ": "fa", "フィ": "fi", "フェ": "fe",
    "フォ": "fo", "フュ": "fyu", "ウィ": "wi", "ウェ": "we", "ウォ": "wo", "ヴァ": "va",
    "ヴィ": "vi", "ヴェ": "ve", "ヴォ": "vo", "ヴュ": "vyu", "ツァ": "tsa", "ツィ": "tsi",
    "ツェ": "tse", "ツォ": "tso", "イェ": "ye", "クァ": "kwa", "クィ": "kwi", "クェ": "kwe",
    "クォ": "kwo", "グァ": "gwa",
}  # fmt: skip

_KANA_MONO: dict[str, str] = {
    "ア": "a", "イ": "i", "ウ": "u", "エ": "e", "オ": "o",
    "カ": "ka", "キ": "ki", "ク": "ku", "ケ": "ke", "コ": "ko",
    "サ": "sa", "シ": "shi", "ス": "su", "セ": "se", "ソ": "so",
    "タ": "ta", "チ": "chi", "ツ": "tsu", "テ": "te", "ト": "to",
    "ナ": "na", "ニ": "ni", "ヌ": "nu", "ネ": "ne", "ノ": "no",
    "ハ": "ha", "ヒ": "hi", "フ": "fu", "ヘ": "he", "ホ": "ho",
    "マ": "ma", "ミ": "mi", "ム": "mu", "メ": "me", "モ": "mo",
    "ヤ": "ya", "ユ": "yu", "ヨ": "yo",
    "ラ": "ra", "リ": "ri", "ル": "ru", "レ": "re", "ロ": "ro",
    "ワ": "wa", "ヰ": "i", "ヱ": "e", "ヲ": "o", "ン": "n",
    "ガ": "ga", "ギ": "gi", "グ": "gu", "ゲ": "ge", "ゴ": "go",
    "ザ": "za", "ジ": "ji", "ズ": "zu", "ゼ": "ze", "ゾ": "zo",
    "ダ": "da", "ヂ": "ji", "ヅ": "zu", "デ": "de", "ド": "do",
    "バ": "ba", "ビ": "bi", "ブ": "bu", "ベ": "be", "ボ": "bo",
    "パ": "pa", "ピ": "pi", "プ": "pu", "ペ": "pe", "ポ": "po",
    "ヴ": "vu", "ァ": "a", "ィ": "i", "ゥ": "u", "ェ": "e", "ォ": "o",
    "ャ": "ya", "ュ": "yu", "ョ": "yo", "ヮ": "wa",
}  # fmt: skip

_SEPARATORS = re.compile(r"[\s・=＝,，、/]+")
_VOWELS = "aeiou"


def nfkc(text: str) -> str:
    """NFKC-normalise (full-width Latin to ASCII, half-width kana to full-width) and trim."""
    return unicodedata.normalize("NFKC", text).strip()


def char_script(ch: str) -> Script | None:
    """Classify one character as kanji, kana or Latin; ``None`` for anything else."""
    code = ord(ch)
    if 0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or ch in "々〆ヶ":
        return "kanji"
    if 0x3041 <= code <= 0x30FF and ch != "・":
        return "kana"
    if ch.isalpha() and code < 0x2000:
        return "latin"
    return None


def script_of(text: str) -> Script:
    """Return the dominant script of a token: any kanji makes it kanji, then kana, else Latin."""
    scripts = {char_script(ch) for ch in text}
    if "kanji" in scripts:
        return "kanji"
    if "kana" in scripts:
        return "kana"
    return "latin"


def split_tokens(text: str) -> list[str]:
    """Split a name field into tokens on spaces, ``・``, ``=`` and commas."""
    return [t for t in _SEPARATORS.split(nfkc(text)) if t]


def split_script_boundary(token: str) -> list[str]:
    """Split an unspaced Japanese full name at a kanji→kana boundary (``田中ゆき`` → two parts)."""
    for i in range(1, len(token)):
        if char_script(token[i - 1]) == "kanji" and char_script(token[i]) == "kana":
            return [token[:i], token[i:]]
    return [token]


@lru_cache(maxsize=65536)
def kana_to_romaji(text: str) -> str:
    """Convert hiragana/katakana to plain Hepburn romaji (long vowels written doubled).

    Characters that are not kana are kept as they are, lower-cased.
    """
    kata = jaconv.hira2kata(nfkc(text))
    out: list[str] = []
    geminate = False
    i = 0
    while i < len(kata):
        pair = kata[i : i + 2]
        ch = kata[i]
        if pair in _KANA_DIGRAPHS:
            syl = _KANA_DIGRAPHS[pair]
            i += 2
        elif ch in _KANA_MONO:
            syl = _KANA_MONO[ch]
            i += 1
        elif ch == "ッ":
            geminate = True
            i += 1
            continue
        elif ch == "ー":
            last = next((c for c in reversed("".join(out)) if c in _VOWELS), "")
            out.append(last)
            i += 1
            continue
        else:
            out.append(ch.lower())
            i += 1
            continue
        if geminate:
            syl = ("t" + syl) if syl.startswith("ch") else (syl[0] + syl)
            geminate = False
        out.append(syl)
    return "".join(out)


def strip_diacritics(text: str) -> str:
    """Remove combining marks (``Ō`` → ``O``, ``é`` → ``e``, ``ü`` → ``u``)."""
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


_KUNREI = [
    (re.compile(r"sy"), "sh"),
    (re.compile(r"ty"), "ch"),
    (re.compile(r"[zjd]y"), "j"),
    (re.compile(r"si"), "shi"),
    (re.compile(r"ti"), "chi"),
    (re.compile(r"(?<!t)tu"), "tsu"),
    (re.compile(r"(?<![sc])hu"), "fu"),
    (re.compile(r"[zd]i"), "ji"),
    (re.compile(r"du"), "zu"),
    (re.compile(r"m(?=[bmp])"), "n"),
    (re.compile(r"c(?=ch)"), "t"),
    (re.compile(r"oh(?![aeiouy])"), "o"),
    (re.compile(r"o[ou]+"), "o"),  # こうお (kouo) and Kōo alike: a run, not one pair
    (re.compile(r"(?<=u)u"), ""),
    (re.compile(r"(?<=a)a"), ""),
    (re.compile(r"(?<=i)i"), ""),
    (re.compile(r"(?<=e)e"), ""),
]


@lru_cache(maxsize=65536)
def canonical_romaji(text: str) -> str:
    """Fold any romanisation (or kana) of a Japanese word to one canonical key.

    Kana is first converted to Hepburn; macrons, Kunrei-shiki syllables (``si``, ``tu``,
    ``hu``, ``zi``), passport ``oh`` and doubled long vowels are folded; ``m`` before
    ``b``/``m``/``p`` becomes ``n``. Western names pass through the same rules, which is
    harmless because both sides of a comparison are folded alike.
    """
    s = nfkc(text)
    if any(char_script(c) == "kana" for c in s):
        s = kana_to_romaji(s)
    s = strip_diacritics(s).lower()
    s = "".join(c for c in s if "a" <= c <= "z")
    for pattern, repl in _KUNREI:
        s = pattern.sub(repl, s)
    return s


def casefold_text(text: str) -> str:
    """Comparison form of a token as written: NFKC, katakana→hiragana, case-folded, no marks."""
    s = nfkc(text)
    if script_of(s) == "latin":
        return strip_diacritics(s).casefold()
    return str(jaconv.kata2hira(s))
