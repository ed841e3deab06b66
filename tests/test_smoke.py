def test_version(cli):
    r = cli("--version")
    assert r.exit_code == 0
    assert r.stdout.startswith("aura-db ")


def test_migrate_builds_schema_in_empty_dir(cli, workdir):
    r = cli("migrate")
    assert r.exit_code == 0, r
    assert (workdir / "aura.db").exists()
    r = cli("status", "--check")
    assert r.exit_code == 0, r
