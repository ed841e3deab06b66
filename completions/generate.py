"""Write the shell completion scripts in this folder from the current code.

    python completions/generate.py           # rewrite them
    python completions/generate.py --check   # exit 1 if any differs (tests do this too)

The scripts come from Typer's own machinery (``_AURA_DB_COMPLETE=source_<shell>
aura-db``); they only hand the command line back to ``aura-db`` on each TAB
press, so they change when Typer's protocol changes, not when commands do.
The zsh one gets an ending of its own, so that it works both autoloaded from
$fpath (as README.md installs it) and sourced.
"""

from __future__ import annotations

import os
import re
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
    text = proc.stdout.strip("\n") + "\n"
    return _autoloadable(text) if shell == "zsh" else text


# Typer's zsh script ends by registering its function with compdef: right
# when the script is sourced, but installed as `_aura-db` on $fpath,
# compinit autoloads the file as the completion function itself, and the
# first TAB in a shell would then only define and register the function,
# completing nothing.  So the script completes when it runs as that
# function: "loadautofunc" on the first TAB (zsh reading the file),
# "shfunc" on every later one (the loaded body running again), and
# registers itself otherwise (sourced: "file"; eval'd: "eval").
_ZSH_REGISTER = re.compile(r"^compdef (\w+) aura-db$", re.MULTILINE)
_ZSH_ENDING = """\
if [[ $zsh_eval_context[-1] == loadautofunc || $zsh_eval_context[-1] == shfunc ]]; then
  # autoloaded from $fpath by compinit: this file is the completion function
  {function} "$@"
else
  # sourced or eval'd: register the function for aura-db
  compdef {function} aura-db
fi"""


def _autoloadable(script: str) -> str:
    found = list(_ZSH_REGISTER.finditer(script))
    if not script.startswith("#compdef aura-db\n") or len(found) != 1:
        raise RuntimeError("the zsh script Typer writes has changed: review _autoloadable() in completions/generate.py")
    m = found[0]
    return script[: m.start()] + _ZSH_ENDING.format(function=m.group(1)) + script[m.end():]


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
