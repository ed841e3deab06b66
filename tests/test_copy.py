"""aura-db copy: between SQLite, PostgreSQL and MySQL/MariaDB, proved, atomic, never blocked by a killed run."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from conftest import connect_url, run_subprocess

SECRET = "s3cret-Pa55word"


# --------------------------------------------------------------------------
# helpers


def _seeded(cli, tmp_path: Path, name: str = "source.db", projects: int = 12) -> str:
    """A SQLite database with the dev data set and a small synthetic one."""
    url = f"sqlite:///{tmp_path / name}"
    assert cli("--db", url, "migrate", "--json").exit_code == 0
    assert cli("--db", url, "seed", "dev").exit_code == 0
    r = cli("--db", url, "seed", "synthetic", "--projects", str(projects), "--random-seed", "5")
    assert r.exit_code == 0, r
    return url


def _copy(cli, source: str, target: str, *extra: str):
    r = cli("--db", source, "copy", "--to", target, "--yes", "--json", *extra)
    doc = json.loads(r.stdout)
    return r, doc


def _tables(url: str) -> list[str]:
    from aura_db.engines.registry import engine_for

    engine = engine_for(url)
    if engine.features.database_is_a_file and not os.path.exists(engine.url.path):
        return []
    db = engine.open()
    try:
        return engine.catalog(db).tables()
    finally:
        db.close()


def _counts(url: str) -> dict[str, int]:
    from aura_db.engines.registry import engine_for

    engine = engine_for(url)
    db = engine.open()
    try:
        cat = engine.catalog(db)
        return {t.lower(): cat.row_count(t) for t in cat.tables()}
    finally:
        db.close()


def _rows(url: str, sql: str) -> list[tuple]:
    from aura_db.engines.registry import engine_for

    engine = engine_for(url)
    db = engine.open()
    try:
        return [tuple(r) for r in db.execute_sql(sql).fetchall()]
    finally:
        db.close()


def _titles(url: str) -> list[tuple[str, str]]:
    return sorted((str(i).upper(), t) for i, t in _rows(url, 'SELECT "Id", "Title" FROM "ProjectStates"'
                                                        .replace('"', _q(url))))


def _q(url: str) -> str:
    return "`" if url.startswith("mysql") else '"'


def _documents(url: str) -> list[tuple[str, object]]:
    """Every JSON document of ProjectStates and MediaItems, parsed, by row."""
    q = _q(url)
    out = []
    for table, col in (("ProjectStates", "BriefJson"), ("MediaItems", "MetadataJson")):
        for key, doc in _rows(url, f"SELECT {q}Id{q}, {q}{col}{q} FROM {q}{table}{q}"):
            if doc is not None:
                out.append((f"{table}:{str(key).upper()}", json.loads(doc) if isinstance(doc, str) else doc))
    return sorted(out, key=lambda x: x[0])


def _checks_pass(cli, url: str) -> None:
    r = cli("--db", url, "status", "--check")
    assert r.exit_code == 0, r
    r = cli("--db", url, "verify", "--json")
    assert r.exit_code == 0, r


def _same_data(a: str, b: str, *, extra_log_rows: int) -> None:
    ca, cb = _counts(a), _counts(b)
    assert set(ca) == set(cb)
    for table in ca:
        expected = ca[table] + (extra_log_rows if table == "aura_migration_log" else 0)
        assert cb[table] == expected, table
    assert sum(ca.values()) > 300  # a real data set, not an empty one
    assert _titles(a) == _titles(b)
    docs = _documents(a)
    assert docs and docs == _documents(b)


# --------------------------------------------------------------------------
# Round trips


def test_sqlite_postgresql_sqlite_round_trip(cli, tmp_path, server_url):
    source = _seeded(cli, tmp_path, projects=6)
    pg = server_url("postgresql")
    r, doc = _copy(cli, source, pg)
    assert r.exit_code == 0, r
    assert doc["ok"] and doc["all_match"] and doc["status_check"] == "pass" and doc["verify"] in ("pass", "warn")
    _checks_pass(cli, pg)
    _same_data(source, pg, extra_log_rows=1)

    # Native types on PostgreSQL, as aura-db's migrations build them there.
    conn = connect_url(pg)
    with conn.cursor() as cur:
        cur.execute("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'ProjectStates'")
        types = dict(cur.fetchall())
    conn.close()
    assert types["Id"] == "uuid" and types["BriefJson"] == "jsonb"
    assert types["CreatedAt"].startswith("timestamp")

    back = f"sqlite:///{tmp_path / 'back.db'}"
    r, doc = _copy(cli, pg, back)
    assert r.exit_code == 0, r
    _checks_pass(cli, back)
    _same_data(source, back, extra_log_rows=2)
    # What aura-db and the app write on SQLite: upper-case GUID text, EF's time text, 0/1.
    con = sqlite3.connect(tmp_path / "back.db")
    gid, created, deleted = con.execute('SELECT "Id", "CreatedAt", "IsDeleted" FROM "ProjectStates" LIMIT 1').fetchone()
    con.close()
    assert gid == gid.upper() and len(gid) == 36
    assert isinstance(created, str) and created[4] == "-" and created[10] == " "
    assert deleted in (0, 1)


def test_sqlite_mariadb_sqlite_round_trip(cli, tmp_path, server_url):
    source = _seeded(cli, tmp_path, projects=4)
    my = server_url("mysql")
    r, doc = _copy(cli, source, my)
    assert r.exit_code == 0, r
    assert doc["all_match"] and all(t["match"] for t in doc["tables"])
    _checks_pass(cli, my)
    _same_data(source, my, extra_log_rows=1)
    assert "aura_copy_incomplete" not in [t.lower() for t in _tables(my)]

    back = f"sqlite:///{tmp_path / 'back.db'}"
    r, doc = _copy(cli, my, back)
    assert r.exit_code == 0, r
    _checks_pass(cli, back)
    _same_data(source, back, extra_log_rows=2)


def test_postgresql_to_mariadb(cli, tmp_path, server_url):
    source = _seeded(cli, tmp_path, projects=2)
    pg, my = server_url("postgresql"), server_url("mysql")
    assert _copy(cli, source, pg)[0].exit_code == 0
    r, doc = _copy(cli, pg, my)
    assert r.exit_code == 0, r
    _same_data(source, my, extra_log_rows=2)


# --------------------------------------------------------------------------
# Refusals


@pytest.mark.parametrize("engine", ["sqlite", "postgresql", "mysql"])
def test_a_target_holding_a_table_is_refused_and_untouched(cli, tmp_path, server_url, engine):
    source = _seeded(cli, tmp_path, projects=2)
    if engine == "sqlite":
        target = f"sqlite:///{tmp_path / 'target.db'}"
        con = sqlite3.connect(tmp_path / "target.db")
        con.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
        con.execute("INSERT INTO notes VALUES (1, 'keep me')")
        con.commit()
        con.close()
        before = (tmp_path / "target.db").read_bytes()
    else:
        target = server_url(engine)
        conn = connect_url(target)
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body VARCHAR(20))")
            cur.execute("INSERT INTO notes VALUES (1, 'keep me')")
        conn.close()
    r, doc = _copy(cli, source, target)
    assert r.exit_code == 3, r
    assert "not empty" in r.stderr and "notes" in r.stderr and len(r.stderr.strip().splitlines()) <= 2
    assert doc["ok"] is False and doc["exit_code"] == 3
    assert _tables(target) == ["notes"]
    assert _rows(target, "SELECT body FROM notes") == [("keep me",)]
    if engine == "sqlite":
        assert (tmp_path / "target.db").read_bytes() == before
        assert [p.name for p in tmp_path.iterdir() if ".copy-" in p.name] == []


def test_a_source_behind_the_migrations_is_refused(cli, tmp_path):
    source = f"sqlite:///{tmp_path / 'old.db'}"
    assert cli("--db", source, "migrate", "--to", "005").exit_code == 0
    target = tmp_path / "new.db"
    r, doc = _copy(cli, source, f"sqlite:///{target}")
    assert r.exit_code == 3, r
    assert "migrate it first" in r.stderr
    assert not target.exists()


def test_confirmation_needed_without_yes_and_without_a_terminal(cli, tmp_path, server_url):
    source = _seeded(cli, tmp_path, projects=1)
    pg = server_url("postgresql")
    r = cli("--db", source, "copy", "--to", pg)
    assert r.exit_code == 6, r
    assert "--yes" in r.stderr
    assert _tables(pg) == []


def test_copy_into_itself_is_a_usage_error(cli, tmp_path):
    source = _seeded(cli, tmp_path, projects=1)
    r = cli("--db", source, "copy", "--to", str(tmp_path / "source.db"), "--yes")
    assert r.exit_code == 2, r


# --------------------------------------------------------------------------
# Bad data: named exactly, nothing left behind


@pytest.mark.parametrize("engine", ["sqlite", "postgresql", "mysql"])
def test_invalid_json_names_table_row_and_column_and_leaves_the_target_untouched(cli, tmp_path, server_url,
                                                                                   engine):
    source = _seeded(cli, tmp_path, projects=3)
    con = sqlite3.connect(tmp_path / "source.db")
    key = con.execute('SELECT "Id" FROM "ProjectStates" ORDER BY "Id" LIMIT 1 OFFSET 2').fetchone()[0]
    con.execute('UPDATE "ProjectStates" SET "BriefJson" = \'{"broken": \' WHERE "Id" = ?', (key,))
    con.commit()
    con.close()
    target = f"sqlite:///{tmp_path / 'target.db'}" if engine == "sqlite" else server_url(engine)
    r, doc = _copy(cli, source, target)
    assert r.exit_code == 1, r
    line = next(x for x in r.stderr.splitlines() if x.startswith("error:"))
    assert "ProjectStates" in line and key in line and "BriefJson" in line and "invalid JSON" in line
    assert doc["column"] == "BriefJson" and doc["table"] == "ProjectStates"
    assert _tables(target) == []
    if engine == "sqlite":
        assert not (tmp_path / "target.db").exists()
        assert [p.name for p in tmp_path.iterdir() if ".copy-" in p.name] == []
    if engine == "mysql":
        assert "removed" in r.stderr


# --------------------------------------------------------------------------
# Killed: the target is untouched or complete, and the next copy goes through


FAULTS = {"sqlite": ["migrated", "rows:1", "rows:300", "loaded"], "postgresql": ["migrated", "rows:300", "loaded"],
          "mysql": ["rows:1", "loaded"]}


@pytest.mark.parametrize("engine", ["sqlite", "postgresql", "mysql"])
def test_sigkill_at_several_instants(cli, tmp_path, server_url, engine):
    source = _seeded(cli, tmp_path, projects=3)
    for i, fault in enumerate(FAULTS[engine]):
        if engine == "sqlite":
            target = f"sqlite:///{tmp_path / f'target{i}.db'}"
        else:
            target = server_url(engine)
        p = run_subprocess("--db", source, "copy", "--to", target, "--yes", "--json", cwd=tmp_path,
                           env={"AURA_DB_COPY_FAULT": fault})
        assert p.returncode == -9, (fault, p.stderr)
        left = _tables(target)
        if engine == "mysql":
            # DDL committed: what is left carries the marker by which the next copy clears it
            assert left == [] or "aura_copy_incomplete" in [t.lower() for t in left], (fault, left)
        else:
            assert left == [], (fault, left)  # untouched
        if engine == "sqlite":
            assert not os.path.exists(urlsplit(target).path)
        p = run_subprocess("--db", source, "copy", "--to", target, "--yes", "--json", cwd=tmp_path)
        assert p.returncode == 0, (fault, p.stdout, p.stderr)
        doc = json.loads(p.stdout)
        assert doc["all_match"]
        assert doc["cleared_leftover"] == (engine == "mysql" and bool(left))
        assert "aura_copy_incomplete" not in [t.lower() for t in _tables(target)]
        if engine == "sqlite":
            assert [n.name for n in tmp_path.iterdir() if ".copy-" in n.name] == []  # a dead run's file swept


# --------------------------------------------------------------------------
# Report and passwords


def test_json_report_per_table(cli, tmp_path):
    source = _seeded(cli, tmp_path, projects=3)
    r, doc = _copy(cli, source, f"sqlite:///{tmp_path / 't.db'}")
    assert r.exit_code == 0, r
    by_table = {t["table"]: t for t in doc["tables"]}
    assert len(by_table) == len(_counts(source))
    counts = _counts(source)
    for name, t in by_table.items():
        assert t["source_rows"] == counts[name.lower()] == t["target_rows"]
        assert t["source_checksum"] == t["target_checksum"] and len(t["source_checksum"]) == 32
        assert t["match"] is True
    assert doc["migrations"] and doc["status_check"] == "pass" and doc["verify"] in ("pass", "warn")
    assert doc["rows"] == sum(counts.values())
    # Human output: one line per table, within 80 columns.
    r2 = cli("--db", source, "copy", "--to", f"sqlite:///{tmp_path / 't2.db'}", "--yes")
    assert r2.exit_code == 0, r2
    assert all(len(line) <= 80 for line in r2.stdout.splitlines())
    assert "ProjectStates" in r2.stdout


def _with_password(url: str) -> str:
    parts = urlsplit(url)
    netloc = f"{parts.username}:{SECRET}@{parts.hostname}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


def test_passwords_never_printed(cli, tmp_path, server_url):
    source = _seeded(cli, tmp_path, projects=1)
    pg = _with_password(server_url("postgresql"))  # the server trusts local connections: the password is unused
    outputs = []
    r = cli("--db", source, "copy", "--to", pg, "--yes")
    outputs.append(r.stdout + r.stderr)
    r = cli("--db", source, "copy", "--to", pg, "--yes", "--json")  # refused: not empty now
    assert r.exit_code == 3
    outputs.append(r.stdout + r.stderr)
    r = cli("--db", pg, "copy", "--to", f"sqlite:///{tmp_path / 'b.db'}", "--yes", "--json")
    assert r.exit_code == 0, r
    outputs.append(r.stdout + r.stderr)
    my = _with_password(server_url("mysql"))  # a wrong password: the server says no
    r = cli("--db", source, "copy", "--to", my, "--yes", "--json")
    assert r.exit_code == 4, r
    outputs.append(r.stdout + r.stderr)
    assert outputs and all(SECRET not in o for o in outputs)
    assert any("***" in o for o in outputs)


# --------------------------------------------------------------------------
# The normalised form: one logical row, one checksum, whatever the engine handed back


def test_the_normalised_form_is_the_same_on_every_engine():
    import datetime as dt
    import decimal
    import uuid

    from aura_db.copy import NORMALISE, Checksum

    kinds = ["guid", "json", "bool", "eftime", "decimal", "float", "blob", "text", "int"]
    sqlite_row = ["0A1B2C3D-4E5F-4A1B-8C9D-0E1F2A3B4C5D", '{"b": 1, "a": [1, 2.5]}', 1,
                  "2025-11-22 17:54:19.1123839", 12.5, 0.1, b"\x00\xff", "Title", 7]
    pg_row = ["0a1b2c3d-4e5f-4a1b-8c9d-0e1f2a3b4c5d", {"a": [1, 2.5], "b": 1}, True,
              dt.datetime(2025, 11, 22, 17, 54, 19, 112383), decimal.Decimal("12.500000"), 0.1,
              memoryview(b"\x00\xff"), "Title", 7]
    my_row = [str(uuid.UUID("0a1b2c3d-4e5f-4a1b-8c9d-0e1f2a3b4c5d")).upper(), '{"a":[1,2.5],"b":1}', 1,
              dt.datetime(2025, 11, 22, 17, 54, 19, 112383), decimal.Decimal("12.500000000000000000"), 0.1,
              b"\x00\xff", "Title", 7]
    sums = []
    for row in (sqlite_row, pg_row, my_row):
        c = Checksum()
        c.add([NORMALISE[k](v) for k, v in zip(kinds, row)])
        sums.append(c.hex)
    assert sums[0] == sums[1] == sums[2]
    other = Checksum()
    other.add([NORMALISE[k](v) for k, v in zip(kinds, [*sqlite_row[:-2], "Title!", 7])])
    assert other.hex != sums[0]
    # Order does not matter; multiplicity does.
    a, b = Checksum(), Checksum()
    a.add(["1"]), a.add(["2"])
    b.add(["2"]), b.add(["1"])
    assert a.hex == b.hex
    b.add(["1"])
    assert a.hex != b.hex


def test_a_table_aura_db_does_not_model_is_copied_as_it_is(cli, tmp_path, server_url):
    source = _seeded(cli, tmp_path, projects=1)
    con = sqlite3.connect(tmp_path / "source.db")
    con.execute("CREATE TABLE plugin_notes (id INTEGER PRIMARY KEY, body TEXT, score REAL, raw BLOB, "
                "seen_at DATETIME)")
    con.executemany("INSERT INTO plugin_notes VALUES (?, ?, ?, ?, ?)",
                    [(1, "tab\there\nnewline \\ backslash", 1.5, b"\x00\x01\xff", "2025-01-02 03:04:05.123456"),
                     (2, None, None, None, None)])
    con.commit()
    con.close()
    pg = server_url("postgresql")
    r, doc = _copy(cli, source, pg)
    assert r.exit_code == 0, r
    notes = next(t for t in doc["tables"] if t["table"] == "plugin_notes")
    assert notes["created"] and notes["match"] and notes["target_rows"] == 2
    rows = _rows(pg, "SELECT id, body, score, raw, seen_at FROM plugin_notes ORDER BY id")
    assert rows[0][1] == "tab\there\nnewline \\ backslash" and rows[0][2] == 1.5
    assert bytes(rows[0][3]) == b"\x00\x01\xff" and rows[0][4].microsecond == 123456
    assert rows[1] == (2, None, None, None, None)
    back = f"sqlite:///{tmp_path / 'back.db'}"
    r, doc = _copy(cli, pg, back)
    assert r.exit_code == 0, r
    con = sqlite3.connect(tmp_path / "back.db")
    assert con.execute("SELECT body, raw FROM plugin_notes WHERE id = 1").fetchone() == (
        "tab\there\nnewline \\ backslash", b"\x00\x01\xff")
    con.close()


def test_an_existing_sqlite_file_without_tables_is_replaced_and_progress_is_reported(cli, tmp_path):
    from aura_db import copy as core
    from aura_db.engines.registry import engine_for
    from aura_db.migrations import default_migrations_dir

    source = _seeded(cli, tmp_path, projects=2)
    target = tmp_path / "empty.db"
    sqlite3.connect(target).close()  # a file SQLite made, holding nothing
    events = []
    result = core.copy_database(engine_for(source), engine_for(f"sqlite:///{target}"), default_migrations_dir(),
                                on_progress=lambda ev, name, done, total: events.append((ev, name, done, total)))
    assert all(t.match for t in result.tables) and result.verify in ("pass", "warn")
    kinds = {e[0] for e in events}
    assert kinds == {"apply", "table", "rows", "check"}
    rows = [e for e in events if e[0] == "rows" and e[1] == "ProjectStates"]
    assert rows and rows[-1][2] == rows[-1][3] == _counts(source)["projectstates"]
    assert _counts(f"sqlite:///{target}")["projectstates"] == _counts(source)["projectstates"]


def test_mysql_batches_follow_the_statement_limit(cli, tmp_path, server_url, monkeypatch):
    """Rows go in multi-row INSERTs no larger than the limit max_allowed_packet gives (here forced small)."""
    from aura_db import copy as core
    from aura_db.engines.mysql import copy as mysql_copy
    from aura_db.engines.registry import engine_for
    from aura_db.migrations import default_migrations_dir

    source = _seeded(cli, tmp_path, projects=2)
    my = server_url("mysql")
    sent: list[int] = []
    real_write = mysql_copy.MysqlCopyTarget.write

    def write(self, db, table, columns, kinds, chunks):
        conn = db.connection()
        real_cursor = conn.cursor

        class Spy:
            def __init__(self):
                self.cur = real_cursor()

            def execute(self, sql, *args):
                sent.append(len(sql.encode()))
                return self.cur.execute(sql, *args)

            def close(self):
                self.cur.close()

        monkeypatch.setattr(conn, "cursor", lambda *a: Spy() if not a else real_cursor(*a))
        try:
            return real_write(self, db, table, columns, kinds, chunks)
        finally:
            monkeypatch.setattr(conn, "cursor", real_cursor)

    monkeypatch.setattr(mysql_copy.MysqlCopyTarget, "write", write)
    monkeypatch.setattr(mysql_copy.MysqlCopyTarget, "_limit", lambda self, db: 20_000)
    result = core.copy_database(engine_for(source), engine_for(my), default_migrations_dir())
    assert all(t.match for t in result.tables)
    assert len(sent) > len([t for t in result.tables if t.target_rows])  # tables came in several statements
    assert max(sent) <= 20_000
