"""Encrypted backups in the age format: no plaintext on disk, the real `age` tool both ways, identities.

Keys are made by the real ``age-keygen`` (and ``ssh-keygen``); every backup
is decrypted by the real ``age`` tool, and a file ``age`` encrypted is read
by aura-db.  SQLite in-process; PostgreSQL and MySQL on the real servers.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sqlite3
import subprocess
import textwrap
from pathlib import Path

import pytest

from aura_db.db import engine_for, parse_url
from conftest import NEXT

MARKER = "needle-7f3a9c-plaintext-marker"
SQLITE_HEADER = b"SQLite format 3\x00"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
GZIP_MAGIC = b"\x1f\x8b"
AGE_HEADER = b"age-encryption.org/v1\n"


@pytest.fixture(autouse=True)
def _no_key_settings(monkeypatch):
    for name in ("AURA_DB_BACKUP_RECIPIENTS", "AURA_DB_BACKUP_IDENTITY"):
        monkeypatch.delenv(name, raising=False)


class Key:
    def __init__(self, identity: Path, recipient: str):
        self.identity = identity
        self.recipient = recipient


@pytest.fixture
def make_key(require_tool, tmp_path):
    keygen = require_tool("age-keygen")
    made = iter(range(100))

    def make() -> Key:
        path = tmp_path / "keys" / f"age{next(made)}.txt"
        path.parent.mkdir(exist_ok=True)
        subprocess.run([keygen, "-o", str(path)], check=True, capture_output=True)
        pub = subprocess.run([keygen, "-y", str(path)], check=True, capture_output=True, text=True).stdout.strip()
        return Key(path, pub)

    return make


@pytest.fixture
def key(make_key) -> Key:
    return make_key()


@pytest.fixture
def age(require_tool):
    tool = require_tool("age")

    def run(*args: str, input: bytes | None = None) -> bytes:
        r = subprocess.run([tool, *args], input=input, capture_output=True)
        assert r.returncode == 0, r.stderr.decode()
        return r.stdout

    return run


def add_notes(db: Path, n: int, text: str = MARKER) -> None:
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE IF NOT EXISTS Notes (Id INTEGER PRIMARY KEY, Body TEXT)")
    con.executemany("INSERT INTO Notes (Body) VALUES (?)", [(f"{text} {i}",) for i in range(n)])
    con.commit()
    con.close()


def notes(db: Path) -> int:
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT count(*) FROM Notes").fetchone()[0]
    finally:
        con.close()


@pytest.fixture
def live(cli, workdir) -> Path:
    assert cli("migrate").exit_code == 0
    db = workdir / "aura.db"
    add_notes(db, 200)
    return db


def files_in(folder: Path) -> list[Path]:
    return sorted(folder.iterdir()) if folder.exists() else []


def made(cli, *args: str) -> dict:
    r = cli("backup", *args, "--json")
    assert r.exit_code == 0, r
    return json.loads(r.stdout)


def one_line_error(r) -> str:
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert lines and lines[0].startswith("error: "), r
    assert len([ln for ln in lines if ln.startswith("error: ")]) == 1 and "Traceback" not in r.stderr, r
    return lines[0]


# --------------------------------------------------------------------------
# create: the file is an age file, and only that


@pytest.mark.parametrize("compression,inner_magic", [("none", SQLITE_HEADER), ("zstd", ZSTD_MAGIC),
                                                     ("gzip", GZIP_MAGIC)])
def test_an_encrypted_backup_holds_no_plaintext_and_the_age_tool_decrypts_it(cli, live, workdir, key, age,
                                                                              compression, inner_magic):
    doc = made(cli, "--compress", compression, "--encrypt-to", key.recipient)
    path = Path(doc["path"])
    data = path.read_bytes()
    assert path.name.endswith(".age") and data.startswith(AGE_HEADER)
    for plain in (MARKER.encode(), SQLITE_HEADER, ZSTD_MAGIC, b"Notes"):
        assert plain not in data
    m = doc["manifest"]
    assert m["encrypted"] is True and m["encryption"] == "age" and m["format_version"] == 2
    assert m["recipients"] == [{"type": "x25519", "recipient": key.recipient}]
    assert m["size"] == len(data) and m["sha256"] == hashlib.sha256(data).hexdigest()  # of the encrypted file
    inner = age("-d", "-i", str(key.identity), str(path))
    assert inner.startswith(inner_magic)
    if compression == "zstd":
        inner = subprocess.run(["zstd", "-d", "-c"], input=inner, capture_output=True, check=True).stdout
    elif compression == "gzip":
        import gzip

        inner = gzip.decompress(inner)
    assert inner == live.read_bytes()  # byte-exact: the database as it was
    assert m["raw_size"] == len(inner)
    # Nothing else was left in the folder: no plaintext temporary.
    assert [p.name for p in files_in(workdir / "backups")] == [path.name, path.name + ".json"]


def test_a_wal_mode_database_is_backed_up_encrypted_without_leftovers(cli, live, workdir, key, age):
    con = sqlite3.connect(live)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("INSERT INTO Notes (Body) VALUES ('in the wal')")
    con.commit()
    try:
        doc = made(cli, "--compress", "zstd", "--encrypt-to", key.recipient)
    finally:
        con.close()
    path = Path(doc["path"])
    assert MARKER.encode() not in path.read_bytes()
    inner = age("-d", "-i", str(key.identity), str(path))
    db = workdir / "out.db"
    db.write_bytes(subprocess.run(["zstd", "-d", "-c"], input=inner, capture_output=True, check=True).stdout)
    assert notes(db) == 201
    assert [p.name for p in files_in(workdir / "backups")] == [path.name, path.name + ".json"]


def test_an_ssh_key_is_a_recipient_named_by_its_fingerprint(cli, live, workdir, age, require_tool):
    keygen = require_tool("ssh-keygen")
    for kind in ("ed25519", "rsa"):
        priv = workdir / f"id_{kind}"
        subprocess.run([keygen, "-q", "-t", kind, "-N", "", "-C", "operator@secret-host", "-f", str(priv)],
                       check=True, capture_output=True)
        pub = Path(f"{priv}.pub").read_text().strip()
        doc = made(cli, "--compress", "zstd", "--encrypt-to", pub)
        fingerprint = subprocess.run([keygen, "-l", "-E", "sha256", "-f", f"{priv}.pub"], check=True,
                                     capture_output=True, text=True).stdout.split()[1]
        assert doc["manifest"]["recipients"] == [{"type": f"ssh-{kind}", "fingerprint": fingerprint}]
        manifest_text = Path(doc["path"] + ".json").read_text()
        assert "secret-host" not in manifest_text and pub.split()[1] not in manifest_text
        inner = age("-d", "-i", str(priv), doc["path"])
        assert inner.startswith(ZSTD_MAGIC)
        r = cli("backup", "verify", doc["file"], "--identity", str(priv), "--json")
        assert r.exit_code == 0 and json.loads(r.stdout)["content_checked"] is True, r


def test_recipients_come_from_a_file_the_environment_and_the_settings_file(cli, live, workdir, make_key, age,
                                                                          monkeypatch):
    a, b = make_key(), make_key()
    listing = workdir / "recipients.txt"
    listing.write_text(f"# the operators\n{a.recipient}\n\n  # backup host\n{b.recipient}  \n")
    for source in ("file", "env", "settings"):
        if source == "file":
            doc = made(cli, "--encrypt-to", "recipients.txt")
        elif source == "env":
            monkeypatch.setenv("AURA_DB_BACKUP_RECIPIENTS", f"{a.recipient},\n{b.recipient}")
            doc = made(cli)
            monkeypatch.delenv("AURA_DB_BACKUP_RECIPIENTS")
        else:
            (workdir / "aura-db.toml").write_text(f'encrypt_to = ["{a.recipient}", "recipients.txt"]\n')
            doc = made(cli)
        assert {r["recipient"] for r in doc["manifest"]["recipients"]} == {a.recipient, b.recipient}, source
        for k in (a, b):
            assert age("-d", "-i", str(k.identity), doc["path"]).startswith(SQLITE_HEADER)


@pytest.mark.parametrize("bad", ["age1notakey", "no-such-recipients-file", "AGE-SECRET-KEY-1QQQ",
                                 "ssh-ed25519 AAAAnotbase64", "empty.txt", "secret.txt"])
def test_a_bad_recipient_is_exit_2_in_one_line_and_nothing_is_written(cli, live, workdir, key, bad):
    (workdir / "empty.txt").write_text("# nobody\n\n")
    (workdir / "secret.txt").write_text(key.identity.read_text())
    r = cli("backup", "--encrypt-to", key.recipient, "--encrypt-to", bad)
    assert r.exit_code == 2, r
    line = one_line_error(r)
    assert "recipient" in line or "secret key" in line
    assert "AGE-SECRET-KEY-1" not in r.stderr.replace("AGE-SECRET-KEY-1QQQ", "")  # the secret is never echoed
    assert files_in(workdir / "backups") == []
    r = cli("backup", "--encrypt-to", bad, "--json")
    doc = json.loads(r.stdout)
    assert r.exit_code == 2 and doc["ok"] is False and doc["exit_code"] == 2


# --------------------------------------------------------------------------
# verify


def test_verify_without_an_identity_checks_the_checksum_and_says_the_content_was_not(cli, live, workdir, key):
    doc = made(cli, "--compress", "zstd", "--encrypt-to", key.recipient)
    r = cli("backup", "verify", doc["file"], "--json")
    assert r.exit_code == 0, r
    v = json.loads(r.stdout)
    assert v["ok"] is True and v["encrypted"] is True and v["content_checked"] is False
    assert v["checks"]["sha256"] == "ok" and "not checked" in v["checks"]["content"]
    assert any("not the content" in w for w in v["warnings"])
    r = cli("backup", "verify", doc["file"])
    assert r.exit_code == 0 and "not the content" in r.stderr, r
    r = cli("backup", "verify", doc["file"], "--identity", str(key.identity), "--json")
    assert r.exit_code == 0, r
    v = json.loads(r.stdout)
    assert v["content_checked"] is True and v["checks"]["content"] == "ok" and v["warnings"] == []
    # A damaged file fails its checksum, identity or not.
    path = Path(doc["path"])
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    assert cli("backup", "verify", doc["file"]).exit_code == 3


def test_verify_with_the_identity_finds_damaged_content_behind_a_matching_checksum(cli, live, workdir, key, age):
    """A manifest re-written to fit a tampered file: the checksum matches, the content check does not."""
    doc = made(cli, "--encrypt-to", key.recipient)
    path = Path(doc["path"])
    plain = bytearray(age("-d", "-i", str(key.identity), str(path)))
    plain[100:4096] = b"\x00" * (4096 - 100)  # the schema page gone
    tampered = age("-r", key.recipient, input=bytes(plain))
    path.write_bytes(tampered)
    mpath = Path(doc["path"] + ".json")
    m = json.loads(mpath.read_text())
    m.update(size=len(tampered), sha256=hashlib.sha256(tampered).hexdigest())
    mpath.write_text(json.dumps(m))
    assert cli("backup", "verify", doc["file"]).exit_code == 0  # the checksum alone cannot tell
    r = cli("backup", "verify", doc["file"], "--identity", str(key.identity))
    assert r.exit_code == 3, r


def test_verify_with_a_wrong_identity_is_exit_2_and_all_says_which_it_could_not_open(cli, live, workdir,
                                                                                    make_key):
    a, b = make_key(), make_key()
    one = made(cli, "--encrypt-to", a.recipient)
    made(cli, "--label", "plain")
    r = cli("backup", "verify", one["file"], "--identity", str(b.identity))
    assert r.exit_code == 2, r
    assert "does not open it" in one_line_error(r)
    r = cli("backup", "verify", "--all", "--identity", str(b.identity), "--json")
    assert r.exit_code == 0, r
    results = {v["file"]: v for v in json.loads(r.stdout)}
    assert results[one["file"]]["content_checked"] is False
    assert "does not open it" in results[one["file"]]["warnings"][0]
    plain = next(v for f, v in results.items() if f != one["file"])
    assert plain["content_checked"] is True and plain["encrypted"] is False


def test_a_missing_or_unusable_identity_file_is_exit_2(cli, live, workdir, key):
    doc = made(cli, "--encrypt-to", key.recipient)
    (workdir / "pub.txt").write_text(key.recipient + "\n")
    for identity in ("nowhere.txt", "pub.txt"):
        r = cli("backup", "verify", doc["file"], "--identity", identity)
        assert r.exit_code == 2, r
        assert "identity file" in one_line_error(r)


# --------------------------------------------------------------------------
# restore


def test_restore_needs_the_identity_and_changes_nothing_without_it(cli, live, workdir, key, make_key):
    doc = made(cli, "--compress", "zstd", "--encrypt-to", key.recipient)
    add_notes(live, 5, "after the backup")
    before = live.read_bytes()
    folder = workdir / "backups"
    listed = files_in(folder)
    r = cli("restore", doc["file"], "--yes")
    assert r.exit_code == 2, r
    line = one_line_error(r)
    assert "encrypted" in line and "identity" in line and "nothing changed" in line
    r = cli("restore", "latest", "--yes", "--json")
    assert r.exit_code == 2 and json.loads(r.stdout)["exit_code"] == 2, r
    other = make_key()
    r = cli("restore", doc["file"], "--yes", "--identity", str(other.identity))
    assert r.exit_code == 2, r
    line = one_line_error(r)
    assert "does not open it" in line and "nothing changed" in line
    assert live.read_bytes() == before
    assert files_in(folder) == listed  # no safety backup, no leftovers
    assert not [p for p in workdir.iterdir() if p.name.startswith(".aura_stage")]
    r = cli("restore", doc["file"], "--yes", "--identity", str(key.identity), "--json")
    assert r.exit_code == 0, r
    assert notes(live) == 200


def test_the_identity_comes_from_the_environment(cli, live, workdir, key, monkeypatch):
    doc = made(cli, "--encrypt-to", key.recipient)
    add_notes(live, 3)
    monkeypatch.setenv("AURA_DB_BACKUP_IDENTITY", str(key.identity))
    r = cli("restore", doc["file"], "--yes")
    assert r.exit_code == 0, r
    assert notes(live) == 200


def test_safety_backups_are_encrypted_to_the_configured_recipients(cli, live, workdir, key, age, monkeypatch,
                                                                    migrations_copy):
    monkeypatch.setenv("AURA_DB_BACKUP_RECIPIENTS", key.recipient)
    regular = made(cli, "--compress", "zstd")
    assert regular["manifest"]["encrypted"] is True
    add_notes(live, 7)
    r = cli("restore", regular["file"], "--yes", "--identity", str(key.identity), "--json")
    assert r.exit_code == 0, r
    safety = Path(json.loads(r.stdout)["safety_backup"])
    assert safety.name.endswith(".age") and MARKER.encode() not in safety.read_bytes()
    out = workdir / "pre-restore.db"
    out.write_bytes(age("-d", "-i", str(key.identity), str(safety)))
    assert notes(out) == 207  # the database as it was before the restore
    # migrate's and rollback's safety backups (policy.SafetyBackup) too.
    monkeypatch.setenv("AURA_DB_MIGRATIONS", str(migrations_copy))
    (migrations_copy / f"{NEXT:03d}_add_tags.py").write_text(textwrap.dedent('''
        import peewee as pw


        def migrate(migrator, database, *, fake=False):
            migrator.add_fields("ProjectStates", labels=pw.TextField(column_name="Labels", null=True))


        def rollback(migrator, database, *, fake=False):
            migrator.remove_fields("ProjectStates", "labels")
    ''').lstrip())
    assert cli("migrate").exit_code == 0
    assert cli("rollback", "--yes").exit_code == 0
    for label in ("pre-migrate", "pre-rollback"):
        [taken] = [p for p in files_in(workdir / "backups") if f"_{label}." in p.name and p.suffix == ".age"]
        assert MARKER.encode() not in taken.read_bytes()
        m = json.loads(Path(f"{taken}.json").read_text())
        assert m["kind"] == "safety" and m["encrypted"] is True
        assert age("-d", "-i", str(key.identity), str(taken)).startswith(SQLITE_HEADER)


def test_a_file_the_age_tool_encrypted_is_read_by_aura_db(cli, live, workdir, key, age):
    """The other direction: a backup encrypted by `age -r` verifies and restores."""
    doc = made(cli, "--compress", "zstd", "--label", "plain")
    plain = Path(doc["path"])
    sealed = plain.with_name(plain.name.replace("_plain", "_sealed") + ".age")
    sealed.write_bytes(age("-r", key.recipient, str(plain)))
    m = json.loads(Path(f"{plain}.json").read_text())
    data = sealed.read_bytes()
    m.update(file=sealed.name, label="sealed", size=len(data), sha256=hashlib.sha256(data).hexdigest(),
             encrypted=True, encryption="age", recipients=[{"type": "x25519", "recipient": key.recipient}],
             format_version=2)
    Path(f"{sealed}.json").write_text(json.dumps(m))
    plain.unlink()
    Path(f"{plain}.json").unlink()
    r = cli("backup", "verify", sealed.name, "--identity", str(key.identity), "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["content_checked"] is True, r
    add_notes(live, 9)
    r = cli("restore", sealed.name, "--yes", "--identity", str(key.identity), "--no-safety-backup")
    assert r.exit_code == 0, r
    assert notes(live) == 200


def test_backup_list_shows_encrypted_backups(cli, live, workdir, key):
    enc = made(cli, "--encrypt-to", key.recipient)
    made(cli, "--label", "plain")
    r = cli("backup", "list", "--json")
    rows = {e["file"]: e for e in json.loads(r.stdout)}
    assert rows[enc["file"]]["encrypted"] is True
    assert [e["encrypted"] for f, e in rows.items() if f != enc["file"]] == [False]
    r = cli("backup", "list")
    assert r.exit_code == 0 and enc["file"] in r.stdout


def test_a_manifest_never_holds_a_secret(cli, live, workdir, key):
    doc = made(cli, "--encrypt-to", key.recipient)
    text = Path(doc["path"] + ".json").read_text()
    secret = next(ln for ln in key.identity.read_text().splitlines() if ln.startswith("AGE-SECRET-KEY-"))
    assert secret not in text and "SECRET" not in text.upper().replace("SECRET-MARKER", "")
    assert str(key.identity) not in text


# --------------------------------------------------------------------------
# the stream adapters


def test_decryption_stops_cleanly_when_the_reader_stops_early(key, age, tmp_path):
    import threading

    from aura_db.backup import crypto

    data = os.urandom(3 << 20)
    sealed = age("-r", key.recipient, input=data)
    ids = crypto.load_identities(key.identity)
    chunks = crypto.open_sealed(iter([sealed[i:i + 65536] for i in range(0, len(sealed), 65536)]), ids, "x",
                                chunk=1 << 20)
    first = next(chunks)
    assert first == data[:len(first)]
    chunks.close()
    assert not [t for t in threading.enumerate() if t.name == "aura-db-age-decrypt"]
    whole = b"".join(crypto.open_sealed(iter([sealed]), ids, "x"))
    assert whole == data
    # Cut short: age's stream authentication refuses it.
    from aura_db.errors import CheckFailed

    with pytest.raises(CheckFailed):
        b"".join(crypto.open_sealed(iter([sealed[:-100]]), ids, "x"))


# --------------------------------------------------------------------------
# PostgreSQL and MySQL


def _execute(url: str, *statements: str) -> list:
    db = engine_for(parse_url(url)).open()
    try:
        rows: list = []
        for s in statements:
            cur = db.execute_sql(s)
            if cur.description:
                rows = list(cur.fetchall())
        return rows
    finally:
        db.close()


@pytest.mark.parametrize("engine", ["postgresql", "mysql"])
@pytest.mark.parametrize("compression", ["none", "zstd"])
def test_server_backups_encrypt_and_restore_with_the_identity(cli, server_url, workdir, key, age, engine,
                                                             compression):
    url = server_url(engine)
    q = (lambda n: f"`{n}`") if engine == "mysql" else (lambda n: f'"{n}"')
    assert cli("--db", url, "migrate").exit_code == 0
    _execute(url, f"CREATE TABLE {q('Notes')} (Id INTEGER PRIMARY KEY, Body VARCHAR(100))",
             *[f"INSERT INTO {q('Notes')} VALUES ({i}, '{MARKER} {i}')" for i in range(1, 41)])
    r = cli("--db", url, "backup", "--compress", compression, "--encrypt-to", key.recipient, "--json")
    assert r.exit_code == 0, r
    doc = json.loads(r.stdout)
    path = Path(doc["path"])
    data = path.read_bytes()
    assert data.startswith(AGE_HEADER) and MARKER.encode() not in data and path.name.endswith(".age")
    inner = age("-d", "-i", str(key.identity), str(path))
    if compression == "zstd":
        assert inner.startswith(ZSTD_MAGIC)
        inner = subprocess.run(["zstd", "-d", "-c"], input=inner, capture_output=True, check=True).stdout
    if engine == "postgresql":
        assert inner.startswith(b"PGDMP")
    else:
        assert b"dump" in inner[:200] and MARKER.encode() in inner
    assert len(inner) == doc["manifest"]["raw_size"]
    r = cli("--db", url, "backup", "verify", doc["file"], "--identity", str(key.identity), "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["content_checked"] is True, r
    _execute(url, f"DELETE FROM {q('Notes')} WHERE Id > 10")
    r = cli("--db", url, "restore", doc["file"], "--yes")
    assert r.exit_code == 2, r  # no identity: refused before anything
    assert _execute(url, f"SELECT count(*) FROM {q('Notes')}")[0][0] == 10
    r = cli("--db", url, "restore", doc["file"], "--yes", "--identity", str(key.identity),
            env={"AURA_DB_BACKUP_RECIPIENTS": key.recipient})
    assert r.exit_code == 0, r
    assert _execute(url, f"SELECT count(*) FROM {q('Notes')}")[0][0] == 40
    safety = [p for p in files_in(workdir / "backups") if "_pre-restore." in p.name and p.suffix == ".age"]
    assert len(safety) == 1 and MARKER.encode() not in safety[0].read_bytes()
    assert not [p for p in files_in(workdir / "backups") if p.name.startswith(".")]


def test_a_full_disk_while_encrypting_is_said_as_itself_and_the_thread_ends(key):
    import errno
    import threading

    from aura_db.backup import crypto

    [recipient] = crypto.parse_recipients([key.recipient])
    written = [0]

    def put(data: bytes) -> None:
        if written[0] > (2 << 20):
            raise OSError(errno.ENOSPC, "No space left on device")
        written[0] += len(data)

    sealer = crypto.Sealer([recipient], put)
    block = os.urandom(1 << 20)
    with pytest.raises(OSError) as caught:
        for _ in range(64):
            sealer.write(block)
        sealer.finish()
    assert caught.value.errno == errno.ENOSPC
    sealer.abort()
    assert not [t for t in threading.enumerate() if t.name == "aura-db-age-encrypt"]
