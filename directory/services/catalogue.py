"""Seed catalogue loader (placeholder until the loader lands)."""


def load_seed() -> dict[str, int]:
    return {}
