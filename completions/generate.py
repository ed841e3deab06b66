"""Write the shell completion scripts in this folder from the current code.

    python completions/generate.py           # rewrite them
    python completions/generate.py --check   # exit 1 if any differs (tests do this too)

The scripts come from Typer's own machinery (``_AURA_DB_COMPLETE=source_<shell>
aura-db``); they only hand the command line back to ``aura-db`` on each TAB
press, so they change when Typer's protocol changes, not when commands do.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

# shell -> file name, each where that shell looks for it (see README.md).
FILES = {
    "bash": "aura-db.bash",
    "zsh": "_aura-db",
    "fish": "aura-db.fish",
    "powershell": "aura-db.ps1",
}


def generate(shell: str) -> str:
    """The completion script Typer writes for ``shell``, as the installed ``aura-db``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("_AURA_DB_")}
    env["_AURA_DB_COMPLETE"] = f"source_{shell}"
    # argv[0] is the program name the scripts register for: `aura-db`, as
    # installed, not `python -m aura_db`.
    code = "import sys; sys.argv[0] = 'aura-db'; from aura_db.cli.app import main; main()"
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    if proc.returncode != 0 or not proc.stdout.strip():
        raise RuntimeError(f"generating the {shell} completion failed: {proc.stderr.strip()}")
    return proc.stdout.strip("\n") + "\n"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for shell, name in FILES.items():
        text = generate(shell)
        path = HERE / name
        if check:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    if stale:
        print(f"out of date: {', '.join(stale)}; run python completions/generate.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
