"""Cost of the password check (``services.passwords``): the first call of a process, which
builds the French frequency lists, then typical and worst-case checks.

    .venv/bin/python bench/passwords.py [--repeat 20]

Prints milliseconds: the first call, then the median and the slowest of ``--repeat`` runs for
each kind of password (a check must stay well under 100 ms).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

CASES = {
    "common (marseille2024)": "marseille2024",
    "passphrase (4 words)": "girafe violon nuage tartine",
    "long passphrase (960 chars)": "une très longue phrase de passe " * 30,
    "repeated pattern (1024 chars)": "éàçù" * 256,
    "many l33t signs (400 chars)": "4@8(3691!|7$5+%2{[<0" * 20,
}
INPUTS = ("jeanne.martin@example.org", "Jeanne Martin")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()

    start = time.perf_counter()
    from directory.services import passwords

    inputs = passwords.user_inputs(*INPUTS)
    passwords.weakness("bonjour12345", inputs)
    first = 1000 * (time.perf_counter() - start)
    print(f"first call (import, lists built, one check): {first:.0f} ms")

    for label, password in CASES.items():
        timings = []
        for _ in range(args.repeat):
            begin = time.perf_counter()
            passwords.weakness(password, inputs)
            timings.append(1000 * (time.perf_counter() - begin))
        print(
            f"{label:32} median {statistics.median(timings):6.1f} ms   max {max(timings):6.1f} ms"
        )


if __name__ == "__main__":
    main()
