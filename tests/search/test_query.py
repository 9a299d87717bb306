"""The typed syntax: phrases, prefixes, exclusions, and any input accepted."""

import pytest

from directory.search.query import MAX_CLAUSES, parse


def test_words_phrases_prefixes_and_exclusions():
    parsed = parse('"lien social" solid* -sport Marseille')
    texts = [(u.text, u.phrase, u.prefix) for u in parsed.units]
    assert ("lien social", True, False) in texts
    assert ("solid", False, True) in texts
    assert ("Marseille", False, False) in texts
    assert parsed.excluded == ("sport",)


@pytest.mark.parametrize(
    "text",
    [
        '"unbalanced',
        '""',
        "AND",
        "- * ( ) :",
        "a" * 5000,
        "nul\x00byte",
        "<script>x</script>",
        "-",
        "*",
        '-""',
        "tiers-lieu",
        "l'association",
        "   ",
    ],
)
def test_hostile_input_never_raises(text):
    parsed = parse(text)
    assert len(parsed.units) <= MAX_CLAUSES
    assert all("\x00" not in unit.text for unit in parsed.units)


def test_unbalanced_quote_falls_back_to_plain_words():
    parsed = parse('"mobilité douce')
    assert [u.text for u in parsed.units] == ["mobilité", "douce"]
    assert not any(u.phrase for u in parsed.units)


def test_clauses_are_bounded():
    assert len(parse(" ".join(f"mot{i}" for i in range(100))).units) == MAX_CLAUSES
