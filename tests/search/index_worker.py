"""A separate process for the concurrency tests (run with ``python index_worker.py ...``).

``write <prefix> <count>``: publish ``count`` initiatives titled ``<prefix> <n>``, one commit each.
``hold-lock``: take the index's writer lock, say "locked", then wait to be killed.
"""

from __future__ import annotations

import json
import sys
import time


def main() -> None:
    config, action, *rest = json.loads(sys.argv[1]), sys.argv[2], *sys.argv[3:]
    from directory import create_app
    from directory.extensions import db
    from directory.models import Initiative, Status
    from directory.search import indexing

    app = create_app(config)
    with app.app_context():
        if action == "hold-lock":
            with indexing.get_backend().writer(timeout=10):
                print("locked", flush=True)
                time.sleep(600)
        elif action == "write":
            prefix, count = rest[0], int(rest[1])
            for number in range(count):
                db.session.add(
                    Initiative(
                        slug=f"{prefix.lower()}-{number}",
                        title=f"{prefix} {number}",
                        status=Status.PUBLISHED,
                    )
                )
                db.session.commit()
            print("written", flush=True)


if __name__ == "__main__":
    main()
