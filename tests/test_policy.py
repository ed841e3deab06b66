"""aura_db.policy: the safety backup, restore's choices and failed checks are decided in the core.

Real SQLite files, the core functions called directly: what the CLI hands
them (a switch, a result) and what they decide (a backup or none, a proposal,
ChecksFailed carrying the result).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from aura_db import backup, migrations, policy
from aura_db.db import engine_for, parse_url
from aura_db.errors import AuraError, CheckFailed, ChecksFailed, Interrupted
from tests.conftest import NOOP_STEPS
from tests.test_backup import add_notes, backup_json


@pytest.fixture
def live(cli, workdir) -> Path:
    r = cli("migrate")
    assert r.exit_code == 0, r
    db = workdir / "aura.db"
    add_notes(db, 5, "original")
    return db


def _engine(db: Path):
    return engine_for(parse_url(f"sqlite:///{db}"))


# --------------------------------------------------------------------------
# SafetyBackup


def test_safety_backup_is_taken_and_announced(live, workdir):
    heard = []
    made = policy.SafetyBackup(workdir / "backups", keep_safety=5, on_taken=heard.append).take(
        _engine(live), label="pre-migrate", head="some_head")
    assert made is not None and Path(made).is_file()
    assert [str(m.path) for m in heard] == [made]
    manifest = json.loads(Path(made + ".json").read_text())
    assert manifest["kind"] == "safety" and manifest["label"] == "pre-migrate"


@pytest.mark.parametrize("enabled, head", [(False, "some_head"), (True, None)])
def test_no_safety_backup_when_switched_off_or_nothing_is_applied(live, workdir, enabled, head):
    made = policy.SafetyBackup(workdir / "backups", keep_safety=5, enabled=enabled).take(
        _engine(live), label="pre-migrate", head=head)
    assert made is None
    assert not (workdir / "backups").exists()


def test_a_failed_safety_backup_says_nothing_changed_and_how_to_go_on(live, workdir):
    (workdir / "backups").write_text("a file where the folder should be")
    with pytest.raises(AuraError) as info:
        policy.SafetyBackup(workdir / "backups", keep_safety=5).take(_engine(live), label="pre-rollback", head="x")
    assert info.value.message.startswith("the safety backup (pre-rollback) failed, so nothing was changed: ")
    assert info.value.hint.endswith("skip it with --no-backup (then there is no way back)")


# --------------------------------------------------------------------------
# restore_choices


def test_restore_choices_propose_the_newest_regular_backup_of_this_database(cli, live, workdir):
    regular = backup_json(cli, "--label", "a")["path"]
    add_notes(live, 1)
    safety = backup.take_safety_backup(_engine(live), workdir / "backups", label="pre-migrate").path
    other = workdir / "other.db"
    shutil.copy(live, other)
    backup.create_backup(_engine(other), workdir / "backups", label="elsewhere")
    choices = policy.restore_choices(_engine(live), workdir / "backups")
    assert [e.path for e in choices.entries] == [safety, Path(regular)]  # not the other database's
    assert choices.default == 2 and choices.has_safety
    # A database with no backups of its own is offered the engine's others.
    lone = workdir / "lone.db"
    shutil.copy(live, lone)
    assert len(policy.restore_choices(_engine(lone), workdir / "backups").entries) == 3


def test_restore_choices_never_propose_a_safety_backup(live, workdir):
    backup.take_safety_backup(_engine(live), workdir / "backups", label="pre-migrate")
    choices = policy.restore_choices(_engine(live), workdir / "backups")
    assert len(choices.entries) == 1 and choices.default is None


# --------------------------------------------------------------------------
# Failed checks carry their result


def test_check_status_raises_checks_failed_carrying_the_status(live, migrations_copy):
    (migrations_copy / "999_later.py").write_text(NOOP_STEPS, encoding="utf-8")
    st = migrations.status(_engine(live), migrations_copy)
    assert st.pending == ["999_later"]
    with pytest.raises(ChecksFailed) as info:
        policy.check_status(st)
    assert isinstance(info.value, CheckFailed) and info.value.exit_code == 3
    assert info.value.result is st
    assert info.value.message == "1 pending" and info.value.hint == "run `aura-db migrate`"


def test_check_status_passes_an_up_to_date_database(live, workdir):
    from aura_db.migrations import default_migrations_dir

    policy.check_status(migrations.status(_engine(live), default_migrations_dir()))


def test_check_backups_names_the_first_damaged_one(cli, live, workdir):
    path = Path(backup_json(cli)["path"])
    with open(path, "r+b") as f:
        f.truncate(100)
    results = [backup.verify_backup(path)]
    with pytest.raises(ChecksFailed) as info:
        policy.check_backups(results)
    assert info.value.result is results
    assert info.value.message.startswith(f"1 damaged backup(s): {path.name}: ")
    policy.check_backups([])  # nothing damaged: nothing raised


# --------------------------------------------------------------------------
# migrate/rollback apply the safety backup themselves; Ctrl-C is Interrupted carrying the run


STOP = ("def migrate(migrator, database, fake=False):\n    raise KeyboardInterrupt\n\n\n"
        "def rollback(migrator, database, fake=False):\n    raise KeyboardInterrupt\n")


def test_migrate_takes_the_safety_backup_itself_and_ctrl_c_carries_the_run(live, workdir, migrations_copy):
    (migrations_copy / "998_fine.py").write_text(NOOP_STEPS, encoding="utf-8")
    (migrations_copy / "999_stop.py").write_text(STOP, encoding="utf-8")
    heard = []
    safety = policy.SafetyBackup(workdir / "backups", keep_safety=5, on_taken=heard.append)
    with pytest.raises(Interrupted) as info:
        migrations.migrate(_engine(live), migrations_copy, safety=safety)
    exc = info.value
    assert exc.exit_code == 130 and exc.command == "migrate"
    assert exc.step == "999_stop" and exc.transactional and exc.committed == 0
    assert exc.result.migrations == ["998_fine"]
    assert [str(m.path) for m in heard] == [exc.result.backup] and Path(exc.result.backup).is_file()
    assert exc.details == {"migrations": ["998_fine"], "backup": exc.result.backup}
    assert exc.message == "interrupted; migration 999_stop was rolled back (not applied)"
    st = migrations.status(_engine(live), migrations_copy)
    assert st.pending == ["999_stop"]  # 998 committed, 999 rolled back


def test_rollback_takes_the_safety_backup_itself_unless_switched_off(live, workdir, migrations_copy):
    (migrations_copy / "998_fine.py").write_text(NOOP_STEPS, encoding="utf-8")
    engine = _engine(live)
    off = policy.SafetyBackup(workdir / "backups", keep_safety=5, enabled=False)
    migrations.migrate(engine, migrations_copy, safety=off)
    undone = migrations.rollback(engine, migrations_copy, safety=off)
    assert undone.migrations == ["998_fine"] and undone.backup is None
    assert not (workdir / "backups").exists()
    migrations.migrate(engine, migrations_copy, safety=off)
    undone = migrations.rollback(engine, migrations_copy, safety=policy.SafetyBackup(workdir / "backups", keep_safety=5))
    assert undone.migrations == ["998_fine"] and Path(undone.backup).is_file()
    assert json.loads(Path(undone.backup + ".json").read_text())["label"] == "pre-rollback"


def test_no_module_reads_stack_frames_or_the_first_word_of_a_message():
    package = Path(migrations.__file__).parent
    for path in package.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for needle in ("f_locals", "tb_frame", "walk_tb", 'message.startswith("refusing', "startswith('refusing"):
            assert needle not in text, f"{path.relative_to(package)} uses {needle}"


def test_errors_py_holds_the_whole_aura_error_tree():
    import importlib
    import pkgutil

    import aura_db
    from aura_db import errors

    elsewhere = []
    for info in pkgutil.walk_packages(aura_db.__path__, "aura_db."):
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if isinstance(obj, type) and issubclass(obj, errors.AuraError) and obj.__module__ != "aura_db.errors":
                elsewhere.append(f"{info.name}.{name}")
    assert elsewhere == []
    # The old import names still work.
    from aura_db.backup import DatabaseInUse
    from aura_db.seed import NotMigrated

    assert DatabaseInUse is errors.DatabaseInUse and NotMigrated is errors.NotMigrated
