"""Dashboard figures: each count moves exactly with the published initiatives it describes."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from factories import make_departement, make_initiative, make_organisation, make_theme

from directory.extensions import db
from directory.models import Initiative, OrganisationKind, Stage, Status
from directory.models.base import utcnow
from directory.services import stats


def _bars(breakdown) -> dict[str, int]:
    return {bar.label: bar.count for bar in breakdown.bars}


def test_counts_follow_published_initiatives_only(app_ctx):
    scope = stats.Scope()
    before = stats.dashboard(scope)
    theme = make_theme(name="Thème des statistiques")
    var = make_departement("83")
    lead = make_organisation(kind=OrganisationKind.COLLECTIVITE)
    for _ in range(3):
        make_initiative(
            themes=[theme], departements=[var], stage=Stage.DEPLOIEMENT, start_year=2019, lead=lead
        )
    # Neither a proposal nor an archived entry is counted.
    make_initiative(themes=[theme], departements=[var], status=Status.PROPOSED)
    make_initiative(themes=[theme], departements=[var], status=Status.ARCHIVED)
    db.session.commit()

    after = stats.dashboard(scope)
    assert after.total == before.total + 3
    assert _bars(after.by_theme)["Thème des statistiques"] == 3
    var_label = "Var (83)"
    assert _bars(after.by_departement)[var_label] == _bars(before.by_departement)[var_label] + 3
    stage = Stage.DEPLOIEMENT.label
    assert _bars(after.by_stage)[stage] == _bars(before.by_stage).get(stage, 0) + 3
    assert _bars(after.by_year)["2019"] == _bars(before.by_year).get("2019", 0) + 3
    kind = OrganisationKind.COLLECTIVITE.label
    assert _bars(after.by_lead_kind)[kind] == _bars(before.by_lead_kind)[kind] + 3
    assert after.coverage.count(var, theme) == 3


def test_every_gap_of_the_coverage_table_is_an_empty_cell(app_ctx):
    theme = make_theme(name="Thème sans aucune initiative")
    db.session.commit()
    table = stats.coverage(stats.Scope())
    assert {d.code for d in table.departements} == {
        "04", "05", "06", "13", "83", "84", "11", "30", "34", "48", "66",
    }  # fmt: skip
    # A theme nobody works on is a gap in every département.
    assert all(table.count(d, theme) == 0 for d in table.departements)
    cells = len(table.departements) * len(table.themes)
    filled = sum(1 for d in table.departements for t in table.themes if table.count(d, t))
    assert table.gaps == cells - filled


def test_region_scope_and_demo_exclusion(app_ctx):
    theme = make_theme(name="Thème régional")
    make_initiative(themes=[theme], departements=[make_departement("34")])
    make_initiative(themes=[theme], departements=[make_departement("13")], is_demo=True)
    db.session.commit()

    languedoc = stats.dashboard(stats.Scope(region="languedoc-roussillon"))
    assert _bars(languedoc.by_theme)["Thème régional"] == 1
    assert [d.code for d in languedoc.coverage.departements] == ["11", "30", "34", "48", "66"]
    everything = stats.dashboard(stats.Scope())
    real_only = stats.dashboard(stats.Scope(include_demo=False))
    assert _bars(everything.by_theme)["Thème régional"] == 2
    assert _bars(real_only.by_theme)["Thème régional"] == 1
    assert everything.demo_count >= 1


def test_stale_entries_are_those_not_updated_for_a_year(app_ctx):
    before = stats.stale_count(Initiative, stats.Scope())
    old = make_initiative()
    make_initiative()  # recent
    db.session.commit()
    # updated_at changes on every ORM update: set the old date with a plain UPDATE.
    db.session.execute(
        sa.update(Initiative)
        .where(Initiative.id == old.id)
        .values(updated_at=utcnow() - timedelta(days=400))
    )
    db.session.commit()
    assert stats.stale_count(Initiative, stats.Scope()) == before + 1


def test_scope_from_the_address_ignores_unknown_values():
    assert stats.Scope.from_args({"region": "paca", "demo": "non"}) == stats.Scope(
        region="paca", include_demo=False
    )
    assert stats.Scope.from_args({"region": "<script>", "demo": "\x00"}) == stats.Scope()
