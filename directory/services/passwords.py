"""Password strength: zxcvbn's guess estimate, made aware of French, explained in French.

zxcvbn (Dropbox's estimator) splits a password into the patterns a guessing program tries first
(common passwords, dictionary words, names, keyboard rows, sequences, repeats, dates, « l33t »
substitutions) and counts the guesses it would need. A password needs a score of at least
:data:`MIN_SCORE` (about 10⁸ guesses). Its English lists are completed with French ones: the
most frequent French words (``wordfreq``, accents folded), the communes, départements and
régions of the gazetteer, the shipped list of common passwords, and words tied to this site
and to the account (its address and name). The lists are built once per process, on first use.

Rules that do not depend on guessing (length bounds, forbidden characters) stay in
``services.accounts.check_password_strength``, which calls :func:`weakness`.
"""

from __future__ import annotations

import csv
import gzip
import re
import threading
import unicodedata
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from zxcvbn import matching, scoring, time_estimates

DATA = Path(__file__).resolve().parent.parent / "data"
COMMON_PASSWORDS_FILE = DATA / "common-passwords.txt"
TERRITORIES = Path(__file__).resolve().parent.parent.parent / "seed" / "territories"

MIN_SCORE = 3  # zxcvbn's « safely unguessable »: 10⁸ guesses or more
# zxcvbn's scoring grows with the cube of the length: only the start of a longer password is
# judged (a prefix is never stronger than the whole, so nothing weak gets through this way).
SCORED_LENGTH = 40
# « l33t » matching tries every combination of the substitutions a password holds: with
# zxcvbn's table (« 1 » for i or l, « 7 » for l or t, four signs for c...), a password made of
# such signs takes seconds. This table keeps the usual ones, each sign for one letter: at most
# 16 combinations.
L33T_TABLE = {
    "a": ["4", "@"],
    "b": ["8"],
    "c": ["("],
    "e": ["3"],
    "g": ["9"],
    "i": ["1", "!"],
    "l": ["|"],
    "o": ["0"],
    "s": ["$", "5"],
    "t": ["7", "+"],
    "x": ["%"],
    "z": ["2"],
}
FRENCH_WORDS = 30_000
# Words anyone attacking this site tries first, whatever the account.
SITE_WORDS = (
    "annuaire",
    "innovation",
    "innovationsociale",
    "sociale",
    "social",
    "cohesion",
    "cohesionsociale",
    "drjscs",
    "ddcs",
    "jeunesse",
    "sports",
    "solidarite",
    "solidarites",
    "association",
    "initiative",
    "initiatives",
    "partenaire",
    "paca",
    "provence",
    "alpes",
    "cote",
    "azur",
    "cotedazur",
    "region",
    "regionsud",
    "sud",
    "marseille",
    "nice",
    "toulon",
    "avignon",
    "aix",
)

ADVICE = (
    "Choisissez plutôt une phrase de plusieurs mots sans lien entre eux (par exemple quatre "
    "mots pris au hasard) : elle est à la fois plus sûre et plus facile à retenir."
)

_SEPARATORS = re.compile(r"[\s'’\-_.]+")
_LOCAL_PART_SPLIT = re.compile(r"[^a-z]+")

_lock = threading.Lock()
_ready = False


def fold(text: str) -> str:
    """Lower case without accents: « Été » is tried as « ete » by any guessing program."""
    text = text.lower().replace("œ", "oe").replace("æ", "ae")
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _unique(words: Iterable[str]) -> list[str]:
    """Words in their first-seen order (their rank), each once."""
    return list(dict.fromkeys(word for word in words if word))


def common_password_list() -> list[str]:
    """The shipped list of common passwords, most frequent first (its header ends at a blank
    line)."""
    text = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8")
    _header, _, body = text.partition("\n\n")
    return _unique(line.strip().lower() for line in body.splitlines())


def _french_words() -> list[str]:
    from wordfreq import top_n_list

    return _unique(
        folded
        for folded in (fold(word) for word in top_n_list("fr", FRENCH_WORDS))
        if folded.isalpha()
    )


def _places() -> list[str]:
    """Régions, départements, then communes from the most to the least populated, written
    without accents nor separators (« aixenprovence »)."""
    names: list[str] = []
    for filename in ("regions.csv", "departements.csv"):
        with (TERRITORIES / filename).open(encoding="utf-8", newline="") as handle:
            names.extend(row["name"] for row in csv.DictReader(handle))
    communes = TERRITORIES / "communes.csv.gz"
    with gzip.open(communes, "rt", encoding="utf-8", newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row["kind"] == "COM"]
    rows.sort(key=lambda row: -int(row["population"] or 0))
    names.extend(row["name"] for row in rows)
    return _unique(_SEPARATORS.sub("", fold(name)) for name in names)


def _merged(*ranked: dict[str, int]) -> dict[str, int]:
    """One ranked dictionary: each word with its best rank in any of ``ranked``."""
    merged: dict[str, int] = {}
    for dictionary in ranked:
        for word, rank in dictionary.items():
            if rank < merged.get(word, rank + 1):
                merged[word] = rank
    return merged


def load_frequency_lists() -> None:
    """Put the French lists into zxcvbn's ranked dictionaries, once per process.

    zxcvbn looks every part of a password up in each dictionary in turn and scores a word by
    its rank alone: its six English lists and ours are merged into three (common passwords,
    words, names and places), a third of the lookups. In place, because zxcvbn's repeat
    matcher scores the repeated part with its module defaults.
    """
    global _ready
    if _ready:
        return
    with _lock:
        if _ready:
            return
        build = matching.build_ranked_dict
        english = matching.RANKED_DICTIONARIES
        places = build(_places()) if TERRITORIES.is_dir() else {}  # shipped with the code
        dictionaries = {
            "passwords": _merged(english["passwords"], build(common_password_list())),
            "words": _merged(
                english["english_wikipedia"], english["us_tv_and_film"], build(_french_words())
            ),
            "names": _merged(
                english["surnames"], english["male_names"], english["female_names"], places
            ),
        }
        english.clear()
        english.update(dictionaries)
        matching.L33T_TABLE.clear()
        matching.L33T_TABLE.update(L33T_TABLE)
        _ready = True


def user_inputs(email: str = "", name: str = "") -> list[str]:
    """What the account itself gives away: its address, the words of its name, the site's."""
    local, _, domain = fold(email).partition("@")
    words = [local, *_LOCAL_PART_SPLIT.split(local), domain.split(".")[0]]
    folded_name = fold(name)
    words += [_SEPARATORS.sub("", folded_name), *_SEPARATORS.split(folded_name)]
    return _unique(word for word in (*words, *SITE_WORDS) if len(word) >= 3)


def analyse(password: str, inputs: Iterable[str] = ()) -> dict[str, Any]:
    """zxcvbn's most guessable split of ``password`` (accents folded, first
    :data:`SCORED_LENGTH` characters), with its ``guesses`` and ``score``.

    The per-account words go into a copy of the dictionaries: zxcvbn's own entry point
    writes them into its module-wide table, which concurrent requests share.
    """
    load_frequency_lists()
    folded = fold(password)[:SCORED_LENGTH]
    dictionaries = {
        **matching.RANKED_DICTIONARIES,
        "user_inputs": matching.build_ranked_dict(_unique(fold(word) for word in inputs)),
    }
    # Without the additive term, which credits any split into three parts with 10⁸ guesses
    # (« annuaire-drjscs »): an attacker of this site starts with a short list of its words.
    result = scoring.most_guessable_match_sequence(
        folded, matching.omnimatch(folded, dictionaries), _exclude_additive=True
    )
    result["score"] = time_estimates.guesses_to_score(result["guesses"])
    return result


def weakness(password: str, inputs: Iterable[str] = ()) -> str | None:
    """Why ``password`` is too easy to guess, in French, or None when it is strong enough."""
    result = analyse(password, inputs)
    if result["score"] >= MIN_SCORE:
        return None
    return f"Ce mot de passe est trop facile à deviner : {_reason(result['sequence'])}. {ADVICE}"


def _reason(sequence: list[dict[str, Any]]) -> str:
    """The pattern that gives the password away, in a sentence: words of the account or of
    the site first, then the longest match (as zxcvbn's own feedback picks it)."""
    for match in sequence:
        if match.get("dictionary_name") == "user_inputs":
            if match["matched_word"] in SITE_WORDS:
                return (
                    "il repose sur un mot lié à l’annuaire ou à la région (comme « annuaire », "
                    "« drjscs », « Provence » ou « Marseille »), que l’on essaie en premier"
                )
            return "il reprend votre nom ou votre adresse électronique"
    longest = max(sequence, key=lambda match: len(match["token"]))
    pattern = longest["pattern"]
    if pattern == "dictionary":
        return _dictionary_reason(longest, sequence)
    if pattern == "spatial":
        return "c’est une suite de touches voisines sur le clavier (comme « azerty » ou « qsdf »)"
    if pattern == "repeat":
        return "il répète un même caractère ou un même motif"
    if pattern == "sequence":
        return "c’est une suite logique de caractères (comme « abcdef » ou « 123456 »)"
    if pattern in ("regex", "date"):
        return "il repose sur une date ou une année"
    return "il est trop court ou trop simple pour résister à un logiciel qui essaie au hasard"


def _dictionary_reason(match: dict[str, Any], sequence: list[dict[str, Any]]) -> str:
    if match.get("l33t"):
        return (
            "c’est un mot courant dont des lettres sont remplacées par des chiffres ou des "
            "signes (« @ » pour « a », « 0 » pour « o »), ce qui ne trompe aucun logiciel"
        )
    if match.get("reversed"):
        return "c’est un mot courant écrit à l’envers"
    if match["dictionary_name"] == "passwords":
        if len(sequence) == 1:
            return "il fait partie des mots de passe les plus utilisés"
        return "il contient un mot de passe parmi les plus utilisés"
    what = (
        "un prénom, un nom de famille ou un nom de lieu courant"
        if match["dictionary_name"] == "names"
        else "un mot courant"
    )
    rest = [other for other in sequence if other is not match]
    if not rest:
        return f"c’est {what}, seul"
    if all(not any(c.isalpha() for c in other["token"]) for other in rest):
        if all(other["i"] > match["j"] for other in rest):
            return f"il ressemble à {what} suivi de chiffres"
        return f"il ressemble à {what} accompagné de chiffres ou de signes"
    return f"il repose sur {what} et trop peu d’autres éléments"
