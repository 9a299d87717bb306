"""Figures for the staff dashboard: published initiatives counted by theme, territory, stage...

Every count is one GROUP BY in SQL over published initiatives, optionally restricted to a region
group (``paca``, ``languedoc-roussillon``) and to real entries (demo data excluded).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import sqlalchemy as sa

from ..extensions import db
from ..models import (
    STATUS_LABELS,
    Departement,
    Initiative,
    InitiativeOrganisation,
    Organisation,
    OrganisationKind,
    OrganisationRole,
    Stage,
    Status,
    Theme,
    initiative_departement,
    initiative_theme,
)
from ..models.base import utcnow
from ..territories import LANGUEDOC_ROUSSILLON, PACA, REGION_GROUPS

# Entries not updated for this long are listed for follow-up.
STALE_AFTER = timedelta(days=365)
STATS_REGIONS = {slug: REGION_GROUPS[slug][0] for slug in ("paca", "languedoc-roussillon")}


@dataclass(frozen=True)
class Scope:
    """Which published initiatives are counted."""

    region: str | None = None  # a key of STATS_REGIONS
    include_demo: bool = True

    @classmethod
    def from_args(cls, args) -> Scope:
        region = args.get("region") if args.get("region") in STATS_REGIONS else None
        return cls(region=region, include_demo=args.get("demo") != "non")

    @property
    def departements(self) -> tuple[str, ...]:
        if self.region:
            return REGION_GROUPS[self.region][1]
        return PACA + LANGUEDOC_ROUSSILLON


@dataclass(frozen=True)
class Bar:
    label: str
    count: int


@dataclass
class Breakdown:
    """One distribution: bars in display order and their total (for shares)."""

    title: str
    bars: list[Bar]
    total: int

    @property
    def maximum(self) -> int:
        return max((bar.count for bar in self.bars), default=0)

    def share(self, bar: Bar) -> float:
        return bar.count / self.total if self.total else 0.0


@dataclass
class CoverageTable:
    """Départements × themes: how many initiatives each cell holds; zeros are the gaps."""

    departements: list[Departement]
    themes: list[Theme]
    counts: dict[tuple[str, int], int] = field(default_factory=dict)

    def count(self, departement: Departement, theme: Theme) -> int:
        return self.counts.get((departement.code, theme.id), 0)

    @property
    def gaps(self) -> int:
        return sum(1 for d in self.departements for t in self.themes if not self.count(d, t))


@dataclass
class Dashboard:
    scope: Scope
    total: int
    by_theme: Breakdown
    by_departement: Breakdown
    by_stage: Breakdown
    by_year: Breakdown
    by_lead_kind: Breakdown
    coverage: CoverageTable
    stale_initiatives: int
    stale_organisations: int
    demo_count: int
    by_status: list[Bar]


def _counted(scope: Scope) -> sa.Select:
    """Ids of the published initiatives in scope."""
    statement = sa.select(Initiative.id).where(Initiative.status == Status.PUBLISHED)
    if not scope.include_demo:
        statement = statement.where(Initiative.is_demo.is_(False))
    if scope.region:
        in_region = (
            sa.select(initiative_departement.c.initiative_id)
            .where(initiative_departement.c.departement_code.in_(scope.departements))
            .scalar_subquery()
        )
        statement = statement.where(Initiative.id.in_(in_region))
    return statement


def _ids(scope: Scope):
    return _counted(scope).scalar_subquery()


def by_theme(scope: Scope, total: int) -> Breakdown:
    rows = db.session.execute(
        sa.select(Theme.name, sa.func.count(initiative_theme.c.initiative_id))
        .select_from(Theme)
        .outerjoin(
            initiative_theme,
            sa.and_(
                initiative_theme.c.theme_id == Theme.id,
                initiative_theme.c.initiative_id.in_(_ids(scope)),
            ),
        )
        .group_by(Theme.id, Theme.name, Theme.position)
        .order_by(Theme.position, Theme.name)
    )
    return Breakdown("Par thème", [Bar(name, count) for name, count in rows], total)


def by_departement(scope: Scope, total: int) -> Breakdown:
    rows = db.session.execute(
        sa.select(
            Departement.code,
            Departement.name,
            sa.func.count(initiative_departement.c.initiative_id),
        )
        .select_from(Departement)
        .outerjoin(
            initiative_departement,
            sa.and_(
                initiative_departement.c.departement_code == Departement.code,
                initiative_departement.c.initiative_id.in_(_ids(scope)),
            ),
        )
        .where(Departement.code.in_(scope.departements))
        .group_by(Departement.code, Departement.name)
        .order_by(Departement.code)
    )
    bars = [Bar(f"{name} ({code})", count) for code, name, count in rows]
    return Breakdown("Par département", bars, total)


def by_stage(scope: Scope, total: int) -> Breakdown:
    counts = dict(
        db.session.execute(
            sa.select(Initiative.stage, sa.func.count())
            .where(Initiative.id.in_(_ids(scope)))
            .group_by(Initiative.stage)
        ).all()
    )
    bars = [Bar(stage.label, counts.get(stage, 0)) for stage in Stage]
    if counts.get(None):
        bars.append(Bar("Non renseignée", counts[None]))
    return Breakdown("Par étape", bars, total)


def by_year(scope: Scope, total: int) -> Breakdown:
    rows = db.session.execute(
        sa.select(Initiative.start_year, sa.func.count())
        .where(Initiative.id.in_(_ids(scope)))
        .group_by(Initiative.start_year)
        .order_by(Initiative.start_year.is_(None), Initiative.start_year)
    ).all()
    bars = [Bar(str(year) if year else "Non renseignée", count) for year, count in rows]
    return Breakdown("Par année de démarrage", bars, total)


def by_lead_kind(scope: Scope, total: int) -> Breakdown:
    """Initiatives by the kind of their lead organisation (one initiative may have several)."""
    rows = dict(
        db.session.execute(
            sa.select(
                Organisation.kind, sa.func.count(sa.distinct(InitiativeOrganisation.initiative_id))
            )
            .join(Organisation, Organisation.id == InitiativeOrganisation.organisation_id)
            .where(
                InitiativeOrganisation.role == OrganisationRole.PORTEUR,
                InitiativeOrganisation.initiative_id.in_(_ids(scope)),
            )
            .group_by(Organisation.kind)
        ).all()
    )
    with_lead = (
        sa.select(InitiativeOrganisation.initiative_id)
        .where(InitiativeOrganisation.role == OrganisationRole.PORTEUR)
        .scalar_subquery()
    )
    without = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Initiative)
        .where(Initiative.id.in_(_ids(scope)), Initiative.id.not_in(with_lead))
    )
    bars = [Bar(kind.label, rows.get(kind, 0)) for kind in OrganisationKind]
    bars.append(Bar("Sans organisation porteuse", without or 0))
    return Breakdown("Par type d'organisation porteuse", bars, total)


def coverage(scope: Scope) -> CoverageTable:
    departements = list(
        db.session.scalars(
            sa.select(Departement)
            .where(Departement.code.in_(scope.departements))
            .order_by(Departement.code)
        )
    )
    themes = list(db.session.scalars(sa.select(Theme).order_by(Theme.position, Theme.name)))
    rows = db.session.execute(
        sa.select(
            initiative_departement.c.departement_code,
            initiative_theme.c.theme_id,
            sa.func.count(),
        )
        .join(
            initiative_theme,
            initiative_theme.c.initiative_id == initiative_departement.c.initiative_id,
        )
        .where(
            initiative_departement.c.initiative_id.in_(_ids(scope)),
            initiative_departement.c.departement_code.in_(scope.departements),
        )
        .group_by(initiative_departement.c.departement_code, initiative_theme.c.theme_id)
    )
    return CoverageTable(
        departements, themes, {(code, theme_id): count for code, theme_id, count in rows}
    )


def stale_cutoff():
    return utcnow() - STALE_AFTER


def stale_count(model: type[Initiative] | type[Organisation], scope: Scope) -> int:
    statement = (
        sa.select(sa.func.count())
        .select_from(model)
        .where(model.status == Status.PUBLISHED, model.updated_at < stale_cutoff())
    )
    if not scope.include_demo:
        statement = statement.where(model.is_demo.is_(False))
    return db.session.scalar(statement) or 0


def by_status() -> list[Bar]:
    counts = dict(
        db.session.execute(
            sa.select(Initiative.status, sa.func.count()).group_by(Initiative.status)
        ).all()
    )
    return [Bar(STATUS_LABELS[status], counts.get(status, 0)) for status in Status]


def dashboard(scope: Scope) -> Dashboard:
    total = db.session.scalar(sa.select(sa.func.count()).select_from(_counted(scope).subquery()))
    total = total or 0
    demo = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Initiative)
        .where(Initiative.is_demo.is_(True), Initiative.status == Status.PUBLISHED)
    )
    return Dashboard(
        scope=scope,
        total=total,
        by_theme=by_theme(scope, total),
        by_departement=by_departement(scope, total),
        by_stage=by_stage(scope, total),
        by_year=by_year(scope, total),
        by_lead_kind=by_lead_kind(scope, total),
        coverage=coverage(scope),
        stale_initiatives=stale_count(Initiative, scope),
        stale_organisations=stale_count(Organisation, scope),
        demo_count=demo or 0,
        by_status=by_status(),
    )
