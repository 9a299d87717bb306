"""Segment files read in place: the same bytes as a copy would give, and no copy made."""

from __future__ import annotations

import io
import os

from whoosh.filedb.structfile import BufferFile

from directory.search import mapped_files
from directory.search.mapped_files import ViewReader

DATA = b"first line\nsecond line\n\x00\x01binary tail without newline"


def test_the_view_reader_reads_what_bytesio_reads():
    ours, theirs = ViewReader(memoryview(DATA)), io.BytesIO(DATA)
    steps = [
        ("read", 5), ("readline",), ("tell",), ("seek", 3), ("read", -1), ("seek", -4, os.SEEK_END),
        ("read", 100), ("read", 1), ("seek", 2, os.SEEK_SET), ("seek", 3, os.SEEK_CUR),
        ("readline", 4), ("readline",),
    ]  # fmt: skip
    for name, *args in steps:
        assert getattr(ours, name)(*args) == getattr(theirs, name)(*args), (name, args)
    ours.seek(0)
    assert list(ours) == io.BytesIO(DATA).readlines()


def test_a_buffer_file_does_not_copy_its_buffer():
    """Whoosh's own BufferFile wraps the view in BytesIO, a copy of a whole segment file at
    each open; once the app is imported it reads the view in place."""
    import directory.search.whoosh_backend  # noqa: F401 - installs the reader

    buffer = bytearray(DATA) + bytes(mapped_files.IN_PLACE_FROM)
    handle = BufferFile(memoryview(buffer))
    buffer[0:5] = b"FIRST"  # a copy would not see this
    assert handle.read(5) == b"FIRST"
    assert handle.get(6, 4) == b"line"
    handle.close()
