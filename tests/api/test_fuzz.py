"""Property-based fuzzing of the whole API from its own OpenAPI document (schemathesis).

Runs schemathesis' engine in-process, as its command line would: examples, coverage (valid and
invalid values, undeclared methods), random fuzzing and stateful sequences. Every answer must be
documented (status, content type, headers), match its schema, and none may be a server error.
"""

from __future__ import annotations

from collections import Counter

import schemathesis
from schemathesis.engine import Status, events, from_schema

MAX_EXAMPLES = 25  # per operation and phase: about 20 s on SQLite for the whole API


def _failures(scenario: events.ScenarioFinished) -> list[str]:
    found = []
    for case_id, checks in scenario.recorder.checks.items():
        interaction = scenario.recorder.interactions.get(case_id)
        address = interaction.request.uri if interaction else "?"
        for check in checks:
            if check.status == Status.FAILURE and check.failure_info is not None:
                found.append(f"{check.name} on {address}: {check.failure_info.failure}")
    return found or [f"{scenario.label}: {scenario.status}"]


def test_api_matches_its_openapi_document(app):
    # The fuzzer sends a thousand requests from one address; the limit has its own test.
    app.config["API_RATE_LIMIT"] = "1000000 per minute"
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    schema.config.generation.update(max_examples=MAX_EXAMPLES, database="none")

    problems: list[str] = []
    statuses: Counter[int] = Counter()
    finished = None
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            for interaction in event.recorder.interactions.values():
                if interaction.response is not None:
                    statuses[interaction.response.status_code] += 1
            if event.status in (Status.FAILURE, Status.ERROR):
                problems.extend(_failures(event))
        elif isinstance(event, events.NonFatalError):
            problems.append(f"{event.label}: {event.value!r}")
        elif isinstance(event, events.FatalError):
            problems.append(repr(event.exception))
        elif isinstance(event, events.EngineFinished):
            finished = event

    assert not problems, "\n".join(problems[:20])
    assert finished is not None
    # It did exercise the API: answers, refusals of bad input and of other methods.
    assert statuses[200] > 100
    assert statuses[400] > 50
    assert statuses[405] > 0
    assert not any(status >= 500 for status in statuses)
