"""What people get from the search service: French matching, syntax, fallbacks, filters."""

from __future__ import annotations

from factories import make_initiative, make_organisation, make_theme
from search_helpers import run_search, titles

from directory.extensions import db
from directory.search.backend import Mode, Sort


def test_accents_case_and_plurals_are_forgiven(app_ctx):
    make_initiative(title="Lutter contre la précarité énergétique")
    db.session.commit()
    assert "Lutter contre la précarité énergétique" in titles(run_search(q="PRECARITES"))


def test_synonyms_find_the_other_form(app_ctx):
    make_initiative(title="Épicerie zéro déchet", summary="Une économie sociale et solidaire.")
    make_initiative(title="Monnaie locale", summary="Favoriser la solidarité entre voisins.")
    db.session.commit()
    assert "Épicerie zéro déchet" in titles(run_search(q="ESS"))
    assert "Monnaie locale" in titles(run_search(q="solidaire"))


def test_words_are_combined_with_and_then_or(app_ctx):
    make_initiative(title="Jardin partagé", summary="Un jardin au cœur du quartier.")
    make_initiative(title="Atelier vélo", summary="Réparer son vélo ensemble.")
    db.session.commit()
    both = run_search(q="jardin quartier")
    assert titles(both) == {"Jardin partagé"}
    assert both.mode == Mode.ALL
    either = run_search(q="jardin vélo")
    assert titles(either) == {"Jardin partagé", "Atelier vélo"}
    assert either.mode == Mode.ANY
    assert any("au moins" in note for note in either.notes)


def test_phrase_prefix_and_exclusion(app_ctx):
    make_initiative(title="Café des mots", summary="Un café ouvert aux habitants du quartier.")
    make_initiative(title="Maison ouverte", summary="Le quartier des habitants ouvert au café.")
    db.session.commit()
    assert titles(run_search(q='"café ouvert"')) == {"Café des mots"}
    assert titles(run_search(q="mais*")) == {"Maison ouverte"}
    assert titles(run_search(q="café -maison")) == {"Café des mots"}


def test_misspelt_words_get_suggestions_and_fuzzy_results(app_ctx):
    make_initiative(title="Accompagnement numérique", summary="Médiation pour tous.")
    db.session.commit()
    outcome = run_search(q="mediaton")
    assert outcome.corrections == {"mediaton": "médiation"}
    assert outcome.mode == Mode.FUZZY
    assert titles(outcome) == {"Accompagnement numérique"}


def test_highlights_mark_matches_and_escape_the_rest(app_ctx):
    make_initiative(title="Solidarité <b>active</b>", summary="Des actions de solidarité & co.")
    db.session.commit()
    hits = run_search(q="solidarité active").initiatives.hits
    (hit,) = [hit for hit in hits if hit.entry.title.startswith("Solidarité")]
    assert str(hit.title) == "<mark>Solidarité</mark> &lt;b&gt;<mark>active</mark>&lt;/b&gt;"
    assert "<mark>solidarité</mark> &amp; co." in str(hit.excerpt)


def test_only_published_entries_are_found(app_ctx):
    make_initiative(title="Brouillon secret", status="draft")
    make_organisation(name="Association secrète", status="proposed")
    db.session.commit()
    outcome = run_search(q="secret")
    assert outcome.initiatives.total == 0
    assert outcome.organisations.total == 0


def test_organisations_are_a_second_group(app_ctx):
    lead = make_organisation(name="Collectif Tremplin")
    make_initiative(title="Parrainage emploi", lead=lead)
    db.session.commit()
    outcome = run_search(q="tremplin")
    assert outcome.organisations.total == 1
    assert outcome.initiatives.total == 1  # found by its lead organisation's name
    outcome = run_search(q="tremplin", onglet="organisations")
    assert [hit.entry.name for hit in outcome.organisations.hits] == ["Collectif Tremplin"]


def test_shared_filters_apply_to_the_text_results(app_ctx):
    theme = make_theme(name="Mobilité")
    make_initiative(title="Covoiturage solidaire", themes=[theme])
    make_initiative(title="Garage solidaire")
    db.session.commit()
    outcome = run_search(q="solidaire", theme=theme.slug)
    assert titles(outcome) == {"Covoiturage solidaire"}
    assert outcome.initiatives.total == 1


def test_near_a_commune(app_ctx):
    make_initiative(title="Repair café marseillais", commune="13055")  # Marseille
    make_initiative(title="Repair café aixois", commune="13001")  # Aix, about 25 km
    make_initiative(title="Repair café niçois", commune="06088")  # Nice, about 160 km
    db.session.commit()
    assert titles(run_search(q="repair", commune="13055", rayon="10")) == {
        "Repair café marseillais"
    }
    assert titles(run_search(q="repair", commune="Marseille", rayon="50")) == {
        "Repair café marseillais",
        "Repair café aixois",
    }
    outcome = run_search(q="repair", commune="Nulle-Part-sur-Mer")
    assert outcome.initiatives.total == 3
    assert any("Commune inconnue" in note for note in outcome.notes)


def test_sort_by_title_and_pagination(app_ctx):
    for letter in "DCBA":
        make_initiative(title=f"{letter} atelier couture")
    db.session.commit()
    request_args = {"q": "couture", "tri": Sort.TITLE.value}
    outcome = run_search(**request_args)
    assert [hit.entry.title[0] for hit in outcome.initiatives.hits] == list("ABCD")
    from directory.services import search as service

    paged = service.search(
        service.SearchRequest.from_args({**request_args, "page": "2"}, per_page=3)
    )
    assert [hit.entry.title[0] for hit in paged.initiatives.hits] == ["D"]
    assert paged.initiatives.pages == 2


def test_autocomplete_titles_organisations_and_communes(app_ctx):
    make_initiative(title="Boutique solidaire de Marseille")
    make_organisation(name="Marseille Solidarités")
    db.session.commit()
    from directory.services.search import autocomplete

    found = {(s.type, s.label) for s in autocomplete("marseil")}
    assert ("initiative", "Boutique solidaire de Marseille") in found  # any word of the title
    assert ("organisation", "Marseille Solidarités") in found
    assert ("commune", "Marseille (13)") in found
    found = {(s.type, s.label) for s in autocomplete("boutique sol")}
    assert ("initiative", "Boutique solidaire de Marseille") in found
    assert autocomplete("a") == []


def test_field_weights_rank_title_before_summary_before_description(app_ctx):
    make_initiative(title="Projet un", summary="Rien.", description="Un atelier de marqueterie.")
    make_initiative(title="Projet deux", summary="Atelier de marqueterie.", description="Rien.")
    make_initiative(title="Marqueterie solidaire", summary="Rien.", description="Rien.")
    db.session.commit()
    outcome = run_search(q="marqueterie")
    assert [hit.entry.title for hit in outcome.initiatives.hits] == [
        "Marqueterie solidaire",
        "Projet deux",
        "Projet un",
    ]


def test_corrected_query_replaces_whole_words_only(app_ctx):
    from directory.services import search as service

    request = service.SearchRequest.from_args({"q": "art partage"})
    outcome = service.SearchOutcome(request, service.ResultGroup(), service.ResultGroup())
    outcome.corrections = {"art": "arts"}
    assert outcome.corrected_query == "arts partage"


def test_excerpts_of_rich_text_show_words_not_markup(app_ctx):
    make_initiative(
        title="Potager des Lilas",
        summary="",
        description="<p>Un <strong>jardin</strong> partagé</p><p>ouvert à tous</p>",
    )
    db.session.commit()
    (hit,) = run_search(q="jardin").initiatives.hits
    assert str(hit.excerpt) == "Un <mark>jardin</mark> partagé ouvert à tous"
