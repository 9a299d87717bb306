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
