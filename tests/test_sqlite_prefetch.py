"""The b-tree read-ahead that makes counting rows of a cold SQLite database fast."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from aura_db.engines.sqlite.prefetch import count_roots, prefetch_btrees


def build(path: Path, rows: int = 20000, page_size: int = 4096) -> None:
    con = sqlite3.connect(path)
    con.execute(f"PRAGMA page_size={page_size}")
    con.execute("CREATE TABLE Projects (Id INTEGER PRIMARY KEY, Title TEXT, Body TEXT)")
    con.execute("CREATE TABLE Scenes (Id INTEGER PRIMARY KEY, ProjectId INTEGER, Script TEXT)")
    con.execute("CREATE INDEX IX_Scenes_Project ON Scenes (ProjectId)")
    con.executemany("INSERT INTO Projects (Title, Body) VALUES (?, ?)",
                    [(f"project {i}", "x" * (i % 300)) for i in range(rows // 10)])
    con.executemany("INSERT INTO Scenes (ProjectId, Script) VALUES (?, ?)",
                    [(i // 12, f"scene {i} " + "y" * (i % 200)) for i in range(rows)])
    con.commit()
    con.close()


def btree_pages(path: Path, names: list[str]) -> int:
    con = sqlite3.connect(path)
    try:
        marks = ",".join("?" * len(names))
        return con.execute(f"SELECT count(*) FROM dbstat WHERE name IN ({marks})", names).fetchone()[0]
    except sqlite3.OperationalError as exc:  # a SQLite built without the dbstat table
        pytest.skip(f"this SQLite cannot list pages: {exc}")
    finally:
        con.close()


@pytest.mark.parametrize("page_size", [1024, 4096, 65536])
def test_it_asks_for_every_page_of_the_btrees_that_count_reads(tmp_path, page_size):
    db = tmp_path / "a.db"
    build(db, page_size=page_size)
    con = sqlite3.connect(db)
    roots = count_roots(con, ["Projects", "Scenes"])
    con.close()
    # count(*) on Scenes reads its (smaller) index, not the table.
    assert len(roots) == 2
    expected = btree_pages(db, ["Projects", "IX_Scenes_Project"])
    assert expected > 3  # more than roots: the walk had levels to descend
    assert prefetch_btrees(db, roots) == expected


def test_the_walk_starts_on_page_one_past_the_file_header(tmp_path):
    db = tmp_path / "a.db"
    build(db, rows=5000)
    assert prefetch_btrees(db, [1]) == btree_pages(db, ["sqlite_schema"])


def test_a_limit_bounds_what_is_asked_for(tmp_path):
    db = tmp_path / "a.db"
    build(db)
    con = sqlite3.connect(db)
    roots = count_roots(con, ["Projects"])
    con.close()
    assert prefetch_btrees(db, roots, limit=10 * 4096) == 10


@pytest.mark.parametrize("content", [b"", b"not a database\n" * 100, b"SQLite format 3\x00" + b"\x00" * 200])
def test_files_that_are_not_sqlite_give_nothing_and_raise_nothing(tmp_path, content):
    f = tmp_path / "x.db"
    f.write_bytes(content)
    assert prefetch_btrees(f, [1, 2, 3]) == 0
    assert prefetch_btrees(tmp_path / "missing.db", [1]) == 0


def test_a_damaged_page_that_points_back_up_ends_the_walk(tmp_path):
    db = tmp_path / "a.db"
    build(db)
    con = sqlite3.connect(db)
    (root,) = count_roots(con, ["Projects"])
    con.close()
    whole = btree_pages(db, ["Projects"])
    size = 4096
    with open(db, "r+b") as f:  # the root's right-most child pointer now points at the root itself
        f.seek((root - 1) * size)
        page = bytearray(f.read(size))
        assert page[0] == 5  # an interior table page
        page[8:12] = root.to_bytes(4, "big")
        f.seek((root - 1) * size)
        f.write(page)
    asked = prefetch_btrees(db, [root])
    assert 1 <= asked < whole


def test_without_posix_fadvise_it_does_nothing(tmp_path, monkeypatch):
    db = tmp_path / "a.db"
    build(db, rows=100)
    monkeypatch.delattr(os, "posix_fadvise")
    assert prefetch_btrees(db, [1]) == 0
