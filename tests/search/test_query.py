"""The typed syntax: phrases, prefixes, exclusions, and any input accepted."""

import pytest

from directory.search.query import MAX_CLAUSES, MAX_PREFIXES, MAX_WORD_LENGTH, parse


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


def test_an_endless_word_is_cut_not_split_into_many():
    parsed = parse("a" * 4000)
    assert [unit.text for unit in parsed.units] == ["a" * MAX_WORD_LENGTH]
    assert parse('"' + "b" * 300 + ' jardin"').units[0].text == "b" * MAX_WORD_LENGTH + " jardin"


def test_one_letter_and_surplus_prefixes_are_plain_words():
    assert parse("a*").units[0].prefix is False
    assert parse("so*").units[0].prefix is True
    parsed = parse("ja* qu* so* in* em* nu*")
    assert [unit.prefix for unit in parsed.units] == [True] * MAX_PREFIXES + [False] * 2
