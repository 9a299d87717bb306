"""French analysis: accents, case, plurals, stop words, elisions and synonyms."""

from directory.search.analysis import analyze, load_synonyms, plain_words, synonym_groups
from directory.search.query import parse


def test_accents_and_case_are_folded_before_stemming():
    assert analyze("précarité") == analyze("precarite") == analyze("PRÉCARITÉ") == ["precarit"]
    assert analyze("Économie") == analyze("economie")


def test_plurals_share_a_stem():
    assert analyze("associations") == analyze("association")
    assert analyze("territoires solidaires") == analyze("territoire solidaire")


def test_stop_words_and_elisions_are_dropped():
    assert analyze("les associations de l'économie") == analyze("associations économie")
    assert analyze("le la les des du") == []
    assert analyze("d'insertion") == analyze("insertion")


def test_ligatures_are_folded():
    assert analyze("œuvre") == analyze("oeuvre")
    assert plain_words("Cœur") == ["coeur"]


def test_synonym_file_is_read():
    groups = synonym_groups()
    assert any({"solidaire", "solidarité"} <= set(group) for group in groups)
    assert any({"ESS", "économie sociale et solidaire"} <= set(group) for group in groups)
    assert any({"QPV", "quartier prioritaire"} <= set(group) for group in groups)


def test_synonym_file_format_ignores_comments_and_lone_words():
    content = "# titre\nvélo, bicyclette # commentaire\n\nseul\n , \n"
    assert load_synonyms(content) == (("vélo", "bicyclette"),)


def test_query_words_expand_to_their_synonyms():
    (unit,) = parse("solidaire").units
    assert "solidarité" in unit.alternatives
    (unit,) = parse("ESS").units
    assert "économie sociale et solidaire" in unit.alternatives


def test_multi_word_synonyms_are_recognised_in_a_query():
    units = parse("économie sociale et solidaire Marseille").units
    assert units[0].alternatives == ("ESS",)
    assert units[0].phrase
    assert units[1].text == "Marseille"
    (unit,) = parse("Quartier Prioritaire").units
    assert "QPV" in unit.alternatives


def test_the_fused_analysis_gives_exactly_the_chain_tokens():
    """``FrenchTokenizer`` replaces Whoosh's five chained filters for speed, not for meaning."""
    from directory.search.analysis import (
        french_analyzer,
        french_chain,
        weighted_analyzer,
        weighted_chain,
        weighted_text,
    )

    plain = "L'économie sociale et solidaire, c'est « ça » : 12 œuvres, les Précarités d’été…"
    weighted = weighted_text([(8.0, "Jardin partagé"), (4.0, ""), (2.0, plain), (1.1, "et le la")])

    def tokens(analyzer, value, **options):
        return [
            (t.text, getattr(t, "pos", None), t.boost, getattr(t, "startchar", None), t.stopped)
            for t in analyzer(value, **options)
        ]

    for options in (
        {},
        {"positions": True, "boosts": True},
        {"positions": True, "chars": True},
        {"positions": True, "chars": True, "removestops": False},
        {"positions": True, "tokenize": False},
    ):
        assert tokens(french_analyzer(), plain, **options) == tokens(
            french_chain(), plain, **options
        )
        assert tokens(weighted_analyzer(), weighted, **options) == tokens(
            weighted_chain(), weighted, **options
        )
