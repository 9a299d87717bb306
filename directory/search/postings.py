"""How the weighted ``content`` fields store each posting: positions as plain integers.

Whoosh's ``PositionBoosts`` pickles a list of (position delta, boost) pairs per posting, so a
phrase check unpickles every posting it reads: at 100,000 entries a common word has 50,000
postings and a cold phrase took half a second. ``WeightedPositions`` keeps what the search
needs, in fixed-size integers that a whole block of postings decodes in one array operation
(``position_keys``):

    count (uint32) | weight (float32: the summed boosts of the tokens) | positions (uint32 ...)

The weight is what Whoosh's ``PositionBoosts`` gives too (each token's boost is the weight of
the part of the entry it comes from), so scores do not change.
"""

from __future__ import annotations

import struct
from collections import defaultdict

import numpy as np
from whoosh import formats

_HEADER = struct.Struct("<If")
POSITION_BITS = 32  # a key is document << 32 | position


class WeightedPositions(formats.Format):
    """Frequency, weight and positions of a term in a document (see the module docstring)."""

    def word_values(self, value, analyzer, **kwargs):
        kwargs["positions"] = True
        kwargs["boosts"] = True
        positions: dict[str, list[int]] = defaultdict(list)
        weights: dict[str, float] = defaultdict(float)
        for token in formats.tokens(value, analyzer, kwargs):
            positions[token.text].append(token.pos)
            weights[token.text] += token.boost
        for word, found in positions.items():
            weight = weights[word] * self.field_boost
            yield word, len(found), weight, encode(found, weights[word])

    def decode_frequency(self, valuestring: bytes) -> int:
        return _HEADER.unpack_from(valuestring)[0]

    def decode_weight(self, valuestring: bytes) -> float:
        return _HEADER.unpack_from(valuestring)[1] * self.field_boost

    def decode_positions(self, valuestring: bytes) -> list[int]:
        count = _HEADER.unpack_from(valuestring)[0]
        return list(struct.unpack_from(f"<{count}I", valuestring, _HEADER.size))

    def decode_position_boosts(self, valuestring: bytes) -> list[tuple[int, float]]:
        """Whoosh's highlighters ask for these: each position gets an equal share."""
        count, weight = _HEADER.unpack_from(valuestring)
        share = weight / count if count else 0.0
        return [(position, share) for position in self.decode_positions(valuestring)]

    def combine(self, valuestrings: list[bytes]) -> bytes:
        positions: set[int] = set()
        weight = 0.0
        for valuestring in valuestrings:
            positions.update(self.decode_positions(valuestring))
            weight += _HEADER.unpack_from(valuestring)[1]
        return encode(sorted(positions), weight)


def encode(positions: list[int], weight: float) -> bytes:
    return _HEADER.pack(len(positions), weight) + struct.pack(f"<{len(positions)}I", *positions)


def position_keys(docnums: np.ndarray, valuestrings: list[bytes]) -> np.ndarray:
    """The keys (document << 32 | position) of a run of postings, in a few array operations:
    the values are joined into one array of 32-bit words, whose two header words per posting
    are dropped."""
    if not len(valuestrings):
        return np.zeros(0, dtype=np.int64)
    words = np.fromiter(map(len, valuestrings), np.int64, len(valuestrings)) // 4
    joined = np.frombuffer(b"".join(valuestrings), dtype="<u4")
    starts = np.cumsum(words) - words
    keep = np.ones(len(joined), dtype=bool)
    keep[starts] = False  # count
    keep[starts + 1] = False  # weight
    positions = joined[keep].astype(np.int64)
    return (np.repeat(docnums, words - 2) << POSITION_BITS) | positions


def sorted_member(values: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    """Mask of ``values`` found in ``sorted_set`` (sorted): a binary search each, cheaper than
    ``np.isin`` (which sorts both) on the large sorted arrays of positions."""
    if not len(sorted_set):
        return np.zeros(len(values), dtype=bool)
    found = np.searchsorted(sorted_set, values).clip(max=len(sorted_set) - 1)
    return sorted_set[found] == values


def distinct_sorted(values: np.ndarray) -> np.ndarray:
    """The distinct values of a sorted array."""
    if not len(values):
        return values
    return values[np.concatenate(([True], values[1:] != values[:-1]))]
