"""Settings: flag > environment variable > settings file > default.

Core tests call ``load_settings`` with an explicit environment and working
directory; CLI tests check what an operator sees: the --verbose lines, the
warning for an unknown key, exit 2 for a malformed file or a bad value.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aura_db.config import FLAGS, KEYS, load_settings
from aura_db.errors import UsageError

# One value per key for each level, all different from the default and from
# each other, so the winner is unambiguous.
LEVELS = {
    "url": ("sqlite:///file.db", "sqlite:///env.db", "sqlite:///flag.db"),
    "migrations": ("file_migrations", "env_migrations", "flag_migrations"),
    "backup_dir": ("file_backups", "env_backups", "flag_backups"),
    "keep": (3, "4", "5"),
    "keep_safety": (2, "6", "7"),
    "keep_hourly": (24, "48", "0"),
    "keep_daily": (7, "14", "30"),
    "keep_weekly": (4, "8", "12"),
    "compression": ("gzip", "zstd", "none"),
    "lock_timeout": (7, "8.5", "9"),
    "backup_before_migrate": (False, "true", "0"),
    "direct_url": ("postgresql://file@db:5432/a", "postgresql://env@db:5432/a", "postgresql://flag@db:5432/a"),
    # A list setting: a string (file, environment: comma- or newline-separated) or a list.
    "encrypt_to": ("age1file", "age1env, age1env2\nage1env3", ["age1flag"]),
    "identity": ("file.key", "env.key", "flag.key"),
    "schema": ("file_schema", "env_schema", "flag_schema"),
    "scratch_url": ("postgresql://h/file_scratch", "postgresql://h/env_scratch", "postgresql://h/flag_scratch"),
}
EXPECTED = {
    "url": ("sqlite:///file.db", "sqlite:///env.db", "sqlite:///flag.db"),
    "migrations": ("file_migrations", "env_migrations", "flag_migrations"),
    "backup_dir": ("file_backups", "env_backups", "flag_backups"),
    "keep": (3, 4, 5),
    "keep_safety": (2, 6, 7),
    "keep_hourly": (24, 48, 0),
    "keep_daily": (7, 14, 30),
    "keep_weekly": (4, 8, 12),
    "compression": ("gzip", "zstd", "none"),
    "lock_timeout": (7.0, 8.5, 9.0),
    "backup_before_migrate": (False, True, False),
    "direct_url": ("postgresql://file@db:5432/a", "postgresql://env@db:5432/a", "postgresql://flag@db:5432/a"),
    "encrypt_to": (("age1file",), ("age1env", "age1env2", "age1env3"), ("age1flag",)),
    "identity": ("file.key", "env.key", "flag.key"),
    "schema": ("file_schema", "env_schema", "flag_schema"),
    "scratch_url": ("postgresql://h/file_scratch", "postgresql://h/env_scratch", "postgresql://h/flag_scratch"),
}


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return f'"{value}"'


def _write_file(folder: Path, values: dict, *, name: str = "aura-db.toml", table: str | None = None) -> Path:
    lines = [f"[{table}]"] if table else []
    lines += [f"{key} = {_toml_value(value)}" for key, value in values.items()]
    path = folder / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_every_key_has_a_precedence_case():
    assert set(LEVELS) == set(KEYS) == set(EXPECTED)


def test_defaults_when_nothing_is_set(tmp_path):
    s = load_settings({}, env={}, cwd=tmp_path)
    assert s.config_file is None
    for key, (_, default, _) in KEYS.items():
        assert s.values[key] == default, key
        assert s.sources[key] == "default", key


@pytest.mark.parametrize("key", sorted(LEVELS))
def test_file_beats_default(tmp_path, key):
    _write_file(tmp_path, {key: LEVELS[key][0]})
    s = load_settings({}, env={}, cwd=tmp_path)
    assert s.values[key] == EXPECTED[key][0]
    assert s.sources[key] == f"file {tmp_path / 'aura-db.toml'}"


@pytest.mark.parametrize("key", sorted(LEVELS))
def test_env_beats_file(tmp_path, key):
    _write_file(tmp_path, {key: LEVELS[key][0]})
    env_name = KEYS[key][0][0]
    s = load_settings({}, env={env_name: LEVELS[key][1]}, cwd=tmp_path)
    assert s.values[key] == EXPECTED[key][1]
    assert s.sources[key] == f"env {env_name}"


@pytest.mark.parametrize("key", sorted(LEVELS))
def test_flag_beats_env_and_file(tmp_path, key):
    _write_file(tmp_path, {key: LEVELS[key][0]})
    env_name = KEYS[key][0][0]
    s = load_settings({key: LEVELS[key][2]}, env={env_name: LEVELS[key][1]}, cwd=tmp_path)
    assert s.values[key] == EXPECTED[key][2]
    assert s.sources[key].startswith("flag ")


def test_aura_db_url_beats_database_url_and_empty_env_is_unset(tmp_path):
    s = load_settings({}, env={"AURA_DB_URL": "sqlite:///a.db", "DATABASE_URL": "sqlite:///b.db"}, cwd=tmp_path)
    assert (s.url, s.sources["url"]) == ("sqlite:///a.db", "env AURA_DB_URL")
    s = load_settings({}, env={"AURA_DB_URL": "", "DATABASE_URL": "sqlite:///b.db"}, cwd=tmp_path)
    assert (s.url, s.sources["url"]) == ("sqlite:///b.db", "env DATABASE_URL")


def test_dashed_spellings_and_aura_db_table(tmp_path):
    (tmp_path / "aura-db.toml").write_text(
        '[aura-db]\nbackup-dir = "b"\nlock-timeout = 5\nbackup-before-migrate = false\n', encoding="utf-8"
    )
    s = load_settings({}, env={}, cwd=tmp_path)
    assert (s.backup_dir, s.lock_timeout, s.backup_before_migrate) == ("b", 5.0, False)
    assert s.warnings == ()


def test_a_setting_left_above_the_aura_db_table_is_a_warning(tmp_path):
    (tmp_path / "aura-db.toml").write_text('url = "up.db"\n[aura-db]\nkeep = 3\n', encoding="utf-8")
    s = load_settings({}, env={}, cwd=tmp_path)
    assert s.keep == 3 and s.sources["url"] == "default"
    assert len(s.warnings) == 1 and "'url'" in s.warnings[0] and "outside the [aura-db] table" in s.warnings[0]


def test_pyproject_tool_table_is_read(tmp_path):
    _write_file(tmp_path, {"keep": 4, "compression": "gzip"}, name="pyproject.toml", table="tool.aura-db")
    s = load_settings({}, env={}, cwd=tmp_path)
    assert (s.keep, s.compression) == (4, "gzip")
    assert s.config_file == tmp_path / "pyproject.toml"
    assert s.sources["keep"] == f"file {tmp_path / 'pyproject.toml'} [tool.aura-db]"


def test_pyproject_without_the_table_is_not_a_settings_file(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n', encoding="utf-8")
    s = load_settings({}, env={}, cwd=tmp_path)
    assert s.config_file is None and s.warnings == ()


def test_aura_db_toml_wins_over_pyproject(tmp_path):
    _write_file(tmp_path, {"keep": 4}, name="pyproject.toml", table="tool.aura-db")
    _write_file(tmp_path, {"keep": 6})
    assert load_settings({}, env={}, cwd=tmp_path).keep == 6


def test_explicit_config_file_from_flag_and_env(tmp_path):
    _write_file(tmp_path, {"keep": 6})
    other = tmp_path / "conf"
    other.mkdir()
    _write_file(other, {"keep": 2}, name="ci.toml")
    assert load_settings({}, config="conf/ci.toml", env={}, cwd=tmp_path).keep == 2
    assert load_settings({}, env={"AURA_DB_CONFIG": str(other / "ci.toml")}, cwd=tmp_path).keep == 2


def test_missing_explicit_config_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        load_settings({}, config="nope.toml", env={}, cwd=tmp_path)


def test_unknown_key_is_a_warning_with_a_suggestion(tmp_path):
    (tmp_path / "aura-db.toml").write_text('kep = 3\ncolour = "x"\n', encoding="utf-8")
    s = load_settings({}, env={}, cwd=tmp_path)
    assert s.keep == 10
    assert len(s.warnings) == 2
    assert "'kep'" in s.warnings[0] and "did you mean 'keep'" in s.warnings[0]
    assert "'colour'" in s.warnings[1]


@pytest.mark.parametrize(
    "line, named",
    [
        ('keep = "ten"', "keep"),
        ("keep = 0", "keep"),
        ("keep = 2.5", "keep"),
        ("keep = true", "keep"),
        ("lock_timeout = -1", "lock_timeout"),
        ('lock_timeout = "soon"', "lock_timeout"),
        ('compression = "rar"', "compression"),
        ('backup_before_migrate = "maybe"', "backup_before_migrate"),
        ('backup-before-migrate = "no"', "backup_before_migrate"),  # a string is no boolean in TOML
        ("url = 5", "url"),
    ],
)
def test_bad_values_in_the_file_are_usage_errors(tmp_path, line, named):
    (tmp_path / "aura-db.toml").write_text(line + "\n", encoding="utf-8")
    with pytest.raises(UsageError) as info:
        load_settings({}, env={}, cwd=tmp_path)
    assert named in info.value.message
    assert info.value.exit_code == 2


def test_bad_env_value_names_the_variable(tmp_path):
    with pytest.raises(UsageError, match="AURA_DB_KEEP"):
        load_settings({}, env={"AURA_DB_KEEP": "many"}, cwd=tmp_path)


def test_explain_never_shows_a_password(tmp_path):
    secret = "s3cr3t-pw"
    for url in (f"postgresql://aura:{secret}@db.example:5432/aura",
                f"mysql://aura@db.example/aura?password={secret}&charset=utf8mb4"):
        s = load_settings({"url": url}, env={}, cwd=tmp_path)
        text = "\n".join(s.explain())
        assert secret not in text
        assert "db.example" in text  # still says which server


# --------------------------------------------------------------------------
# Through the command line


def _migrated(cli) -> None:
    r = cli("-q", "migrate", "--no-backup")
    assert r.exit_code == 0, r


def test_verbose_says_where_each_value_came_from(cli, workdir, monkeypatch):
    _migrated(cli)
    (workdir / "aura-db.toml").write_text("keep = 4\nlock-timeout = 12\n", encoding="utf-8")
    monkeypatch.setenv("AURA_DB_COMPRESSION", "gzip")
    r = cli("-v", "--backup-dir", "elsewhere", "status")
    assert r.exit_code == 0, r
    lines = r.stderr.splitlines()
    assert f"settings file: {workdir / 'aura-db.toml'}" in lines
    assert "url = sqlite:///aura.db  (default)" in lines
    assert f"keep = 4  (file {workdir / 'aura-db.toml'})" in lines
    assert f"lock_timeout = 12.0  (file {workdir / 'aura-db.toml'})" in lines
    assert "compression = gzip  (env AURA_DB_COMPRESSION)" in lines
    assert "backup_dir = elsewhere  (flag --backup-dir)" in lines
    # Every key is explained, once.
    for key in KEYS:
        assert sum(line.startswith(f"{key} = ") for line in lines) == 1, key


def test_every_setting_names_the_flag_that_sets_it(tmp_path):
    flags = {"url": "sqlite:///f.db", "migrations": "m", "backup_dir": "b", "keep": 3, "keep_safety": 2,
             "keep_hourly": 24, "keep_daily": 7, "keep_weekly": 4, "compression": "gzip",
             "lock_timeout": 2.0, "backup_before_migrate": False, "direct_url": "postgresql://u@db/a",
             "encrypt_to": ["age1x"], "identity": "k.txt", "scratch_url": "postgresql://h/s"}
    assert set(flags) == set(KEYS) - {"schema"}
    s = load_settings(flags, env={}, cwd=tmp_path)
    # direct_url has no command-line flag: settings file or AURA_DB_DIRECT_URL; schema neither:
    # on the command line it is the URL's ?schema=.
    assert s.sources == {**{key: f"flag {FLAGS.get(key, key)}" for key in flags}, "schema": "default"}
    assert s.sources["backup_before_migrate"] == "flag --no-backup"


def _explained(stderr: str) -> dict[str, str]:
    """The -v lines, by key: "value  (source)"."""
    return {line.split(" = ", 1)[0]: line.split(" = ", 1)[1] for line in stderr.splitlines()
            if " = " in line and line.split(" = ", 1)[0] in KEYS}


def test_verbose_backup_names_the_keep_and_compress_flags(cli, workdir):
    _migrated(cli)
    (workdir / "aura-db.toml").write_text('keep = 4\ncompression = "zstd"\n', encoding="utf-8")
    r = cli("-v", "backup", "--keep", "3", "--compress", "gzip", "--json")
    assert r.exit_code == 0, r
    lines = _explained(r.stderr)
    assert lines["keep"] == "3  (flag --keep)"
    assert lines["compression"] == "gzip  (flag --compress)"
    assert json.loads(r.stdout)["file"].endswith(".gz")  # and gzip is what it wrote
    r = cli("-v", "backup", "prune", "--keep", "2", "--yes")
    assert r.exit_code == 0, r
    assert _explained(r.stderr)["keep"] == "2  (flag --keep)"
    r = cli("-v", "backup", "--json")
    assert r.exit_code == 0, r
    assert _explained(r.stderr)["compression"] == f"zstd  (file {workdir / 'aura-db.toml'})"


def test_verbose_migrate_names_the_lock_timeout_and_no_backup_flags(cli, workdir, monkeypatch):
    monkeypatch.setenv("AURA_DB_LOCK_TIMEOUT", "7")
    r = cli("-v", "migrate", "--lock-timeout", "2", "--no-backup")
    assert r.exit_code == 0, r
    lines = _explained(r.stderr)
    assert lines["lock_timeout"] == "2.0  (flag --lock-timeout)"
    assert lines["backup_before_migrate"] == "False  (flag --no-backup)"
    r = cli("-v", "migrate")
    assert r.exit_code == 0, r
    lines = _explained(r.stderr)
    assert lines["lock_timeout"] == "7.0  (env AURA_DB_LOCK_TIMEOUT)"
    assert lines["backup_before_migrate"] == "True  (default)"


def test_verbose_rollback_names_its_flags(cli, workdir):
    _migrated(cli)
    r = cli("-v", "rollback", "--lock-timeout", "3", "--no-backup", "--yes")
    assert r.exit_code == 0, r
    lines = _explained(r.stderr)
    assert lines["lock_timeout"] == "3.0  (flag --lock-timeout)"
    assert lines["backup_before_migrate"] == "False  (flag --no-backup)"
    assert not (workdir / "backups").exists()  # and no safety backup was taken


def test_bad_compress_flag_is_exit_2_naming_the_flag(cli, workdir):
    _migrated(cli)
    r = cli("backup", "--compress", "rar")
    assert r.exit_code == 2, r
    assert r.stderr.splitlines()[0] == "error: unknown compression 'rar' from flag --compress"


def test_verbose_hides_the_password_of_a_url_from_the_environment(cli, workdir, monkeypatch):
    secret = "hunter2-secret"
    monkeypatch.setenv("AURA_DB_URL", f"postgresql://aura:{secret}@127.0.0.1:1/aura")
    r = cli("-v", "status")
    assert r.exit_code == 4, r  # nothing listens on port 1
    assert "url = postgresql://aura:***@127.0.0.1:1/aura  (env AURA_DB_URL)" in r.stderr.splitlines()
    assert secret not in r.stdout + r.stderr


def test_unknown_key_warns_on_stderr_and_the_command_still_runs(cli, workdir):
    _migrated(cli)
    (workdir / "aura-db.toml").write_text("kepp = 3\n", encoding="utf-8")
    r = cli("status")
    assert r.exit_code == 0, r
    assert "warning: unknown setting 'kepp'" in r.stderr
    assert "did you mean 'keep'" in r.stderr
    assert "kepp" not in r.stdout


def test_malformed_file_is_exit_2_naming_the_line(cli, workdir):
    (workdir / "aura-db.toml").write_text('keep = 3\nurl = "sqlite:///a.db"\nthis is not toml\n', encoding="utf-8")
    r = cli("status")
    assert r.exit_code == 2, r
    assert r.stderr.startswith(f"error: {workdir / 'aura-db.toml'}:3: not valid TOML")
    assert "line 3" in r.stderr
    assert "Traceback" not in r.stderr
    assert r.stdout == ""
    assert not (workdir / "aura.db").exists()


def test_malformed_pyproject_table_is_exit_2(cli, workdir):
    (workdir / "pyproject.toml").write_text('[tool.aura-db]\nkeep = [1,\n', encoding="utf-8")
    r = cli("status")
    assert r.exit_code == 2, r
    assert "pyproject.toml:" in r.stderr and "not valid TOML" in r.stderr


@pytest.mark.parametrize(
    "content, named",
    [("keep = 0\n", "keep"), ('compression = "rar"\n', "compression"), ("lock-timeout = -5\n", "lock_timeout")],
)
def test_bad_value_is_exit_2_in_one_line(cli, workdir, content, named):
    (workdir / "aura-db.toml").write_text(content, encoding="utf-8")
    r = cli("status")
    assert r.exit_code == 2, r
    first = r.stderr.splitlines()[0]
    assert first.startswith("error: ") and named in first
    assert "Traceback" not in r.stderr


def test_missing_config_flag_file_is_exit_2(cli, workdir):
    r = cli("--config", "missing.toml", "status")
    assert r.exit_code == 2, r
    assert "missing.toml" in r.stderr and "does not exist" in r.stderr


def test_file_settings_reach_the_command(cli, workdir):
    """The url from the file is the database status reads (not ./aura.db)."""
    (workdir / "aura-db.toml").write_text('url = "sqlite:///from_file.db"\n', encoding="utf-8")
    _migrated(cli)
    assert (workdir / "from_file.db").exists() and not (workdir / "aura.db").exists()
    r = cli("status", "--json")
    assert r.exit_code == 0, r
    assert "from_file.db" in r.stdout


def test_settings_are_frozen_and_their_defaults_are_the_keys_defaults(tmp_path):
    import dataclasses

    from aura_db.config import Settings

    s = load_settings({}, env={}, cwd=tmp_path)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.keep = 3  # type: ignore[misc]
    with pytest.raises(TypeError):
        s.values["keep"] = 3  # type: ignore[index]
    with pytest.raises(TypeError):
        s.sources["keep"] = "flag --keep"  # type: ignore[index]
    fields = {f.name: f.default for f in dataclasses.fields(Settings) if f.name in KEYS}
    assert fields == {key: default for key, (_, default, _) in KEYS.items()}
    assert {key: type(getattr(s, key)) for key in KEYS if getattr(s, key) is not None} == {
        key: typ for key, (_, default, typ) in KEYS.items() if default is not None}


def test_a_command_derives_its_settings_without_changing_the_global_ones(tmp_path):
    (tmp_path / "aura-db.toml").write_text('keep = 4\ncompression = "zstd"\n', encoding="utf-8")
    base = load_settings({"backup_dir": "b"}, env={"AURA_DB_LOCK_TIMEOUT": "7"}, cwd=tmp_path)
    mine = base.with_overrides(keep="3", compression=None, lock_timeout=2, backup_before_migrate=False)
    assert (mine.keep, mine.compression, mine.lock_timeout, mine.backup_before_migrate) == (3, "zstd", 2.0, False)
    assert mine.sources["keep"] == "flag --keep" and mine.sources["lock_timeout"] == "flag --lock-timeout"
    assert mine.sources["backup_before_migrate"] == "flag --no-backup"
    assert mine.sources["compression"] == f"file {tmp_path / 'aura-db.toml'}"  # None: not given
    assert mine.backup_path == base.backup_path == (tmp_path / "b").resolve()
    # The global settings are as they were.
    assert (base.keep, base.lock_timeout, base.backup_before_migrate) == (4, 7.0, True)
    assert base.sources["keep"] == f"file {tmp_path / 'aura-db.toml'}"
    assert base.with_overrides(keep=None) is base
    with pytest.raises(UsageError, match="unknown compression 'rar' from flag --compress"):
        base.with_overrides(compression="rar")
    with pytest.raises(UsageError, match="keep from --keep must be at least 1"):
        base.with_overrides(keep=0)
    with pytest.raises(TypeError, match="not settings: kepe"):
        base.with_overrides(kepe=3)


def test_encrypt_to_takes_a_list_in_the_file_and_refuses_other_types(tmp_path):
    (tmp_path / "aura-db.toml").write_text('encrypt_to = ["age1a", "keys.txt"]\n', encoding="utf-8")
    s = load_settings({}, env={}, cwd=tmp_path)
    assert s.encrypt_to == ("age1a", "keys.txt")
    assert s.recipients == ("age1a", str(tmp_path / "keys.txt"))  # a file, relative to the working directory
    (tmp_path / "aura-db.toml").write_text("encrypt_to = 3\n", encoding="utf-8")
    with pytest.raises(UsageError, match="encrypt_to"):
        load_settings({}, env={}, cwd=tmp_path)
