"""The fast front: ``--version``, ``--help``, TAB completion and ``status`` without Typer.

Every TAB press and every CI gate starts a new ``aura-db`` process, and
importing Typer alone costs several times Python's own start-up.  This module
answers the invocations that are run most often from the snapshot of the
command tree that ``aura_db.cli.snapshot`` writes (``_snapshot.py``): the help
pages as Typer prints them, each command's options and arguments, and the
same value completers and ``status`` function the Typer path calls.

It answers only what it understands exactly; ``run`` returns None for
anything else (an unknown option, ``--``, quoting in a completion line, a
terminal narrower than the help pages, a snapshot made from other sources),
and the entry point hands the command line to Typer.  tests/test_fast_path.py
checks both paths give the same output and exit code, case by case.

Imports nothing beyond ``os`` and ``sys`` at module level.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing's own import costs a TAB press a fifth of its time
if TYPE_CHECKING:
    from typing import Any

# Set (to anything) to always take the Typer path: tests compare the two.
NO_FAST_PATH = "_AURA_DB_NO_FAST_PATH"

SNAPSHOT_FORMAT = 1

PROG = "aura-db"
COMPLETE_VAR = "_AURA_DB_COMPLETE"

# The modules whose code decides what the snapshot holds: the command
# definitions, the root, and the generator itself.
_SOURCES = ("root", "snapshot", "migrate", "rollback", "status", "script", "backup", "restore", "seed", "verify",
            "inspect")


def fingerprint() -> str:
    """A checksum of the snapshot's sources and of the Typer that read them."""
    import zlib

    here = os.path.dirname(os.path.abspath(__file__))
    crc = 0
    for name in _SOURCES:
        try:
            with open(os.path.join(here, name + ".py"), "rb") as f:
                crc = zlib.crc32(f.read(), crc)
        except OSError:
            crc = zlib.crc32(b"missing " + name.encode(), crc)
    crc = zlib.crc32(_typer_version().encode(), crc)
    return f"{crc:08x}"


def _typer_version() -> str:
    """Typer's ``__version__``, read from its source without importing it."""
    for folder in sys.path:
        path = os.path.join(folder or ".", "typer", "__init__.py")
        try:
            with open(path, encoding="utf-8") as f:
                for line in f:
                    if line.startswith("__version__"):
                        return line.split("=", 1)[1].strip().strip("\"'")
        except OSError:
            continue
    return "?"


def _snapshot() -> dict[str, Any] | None:
    try:
        from aura_db.cli._snapshot import SNAPSHOT
    except ImportError:
        return None
    if SNAPSHOT.get("format") != SNAPSHOT_FORMAT or SNAPSHOT.get("fingerprint") != fingerprint():
        return None
    return SNAPSHOT


def run(prog: str, args: list[str], environ: os._Environ | dict[str, str] = os.environ) -> int | None:
    """Answer ``aura-db ARGS`` and return the exit code, or None to leave it to Typer."""
    if args == ["--version"] and COMPLETE_VAR not in environ:
        from aura_db import __version__

        _write(sys.stdout, f"aura-db {__version__}\n")
        return 0
    if environ.get(NO_FAST_PATH) or os.path.basename(prog) != PROG:
        return None
    snap = _snapshot()
    if snap is None:
        return None
    if COMPLETE_VAR in environ:
        return _complete(snap, environ)
    if not args:
        return _page(snap, snap["no_args"], environ)
    if args[-1] in ("--help", "-h") and " ".join(args[:-1]) in snap["help"]:
        return _page(snap, snap["help"][" ".join(args[:-1])], environ)
    if "status" in args:
        return _status(snap, args)
    return None


def _write(stream: Any, text: str) -> None:
    if text:
        stream.write(text)
        stream.flush()


# -- help --------------------------------------------------------------------


def _columns(environ: Any) -> int:
    """The width click formats help for (shutil.get_terminal_size's rule)."""
    try:
        columns = int(environ.get("COLUMNS", ""))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


def _page(snap: dict[str, Any], page: list[Any], environ: Any) -> int | None:
    if _columns(environ) < snap["help_columns"]:
        return None  # click wraps to the terminal: only Typer knows the layout
    out, err, code = page
    _write(sys.stdout, out)
    _write(sys.stderr, err)
    return code


# -- the parser ----------------------------------------------------------------


class _Parsed:
    """Where a command line leads: the command, each command's values, what is pending."""

    def __init__(self) -> None:
        self.path = ""
        self.values: dict[str, dict[str, Any]] = {"": {}}
        self.given: dict[str, list[int]] = {"": []}  # positional values per argument
        self.pending: dict[str, Any] | None = None  # an option still waiting for its value
        self.eager = False  # --help, --version, --install-completion...


def _option(node: dict[str, Any], word: str) -> dict[str, Any] | None:
    for opt in node["options"]:
        if word in opt["opts"]:
            return opt
    return None


def _parse(tree: dict[str, Any], words: list[str], *, partial: bool = False) -> _Parsed | None:
    """Follow ``words`` the way click parses them; None where that is not plain.

    With ``partial`` the last word may be an option still waiting for its
    value (completion); otherwise that is left to Typer, as is anything this
    parser does not take exactly as click would.
    """
    parsed = _Parsed()
    node = tree[""]
    i = 0
    while i < len(words):
        word = words[i]
        if word == "--":
            return None
        if word.startswith("-") and word != "-":
            name, eq, value = word.partition("=") if word.startswith("--") else (word, "", "")
            opt = _option(node, name)
            if opt is None or opt.get("unknown") or opt["multiple"] or opt["nargs"] != 1:
                return None
            # Typer's completion options act before the command (as eager
            # ones do) although click does not mark them eager.
            parsed.eager = parsed.eager or opt["eager"] or opt["name"] in ("install_completion", "show_completion")
            if opt["flag"]:
                if eq:
                    return None
                parsed.values[parsed.path][opt["name"]] = True
            else:
                if not eq:
                    if i + 1 == len(words):
                        if partial:
                            parsed.pending = opt
                            return parsed
                        return None
                    i += 1
                    value = words[i]
                    if value.startswith("-"):
                        return None  # click takes it as the value; completion would not
                parsed.values[parsed.path][opt["name"]] = value
        elif node["group"]:
            if not any(sub["name"] == word for sub in node["commands"]):
                return None
            parsed.path = f"{parsed.path} {word}".strip()
            node = tree.get(parsed.path)
            if node is None:
                return None
            parsed.values[parsed.path] = {}
            parsed.given[parsed.path] = []
        else:
            given = parsed.given[parsed.path]
            arguments = node["arguments"]
            if len(given) >= len(arguments) or arguments[len(given)]["nargs"] != 1:
                return None
            given.append(i)
        i += 1
    return parsed


# -- status ------------------------------------------------------------------


def _status(snap: dict[str, Any], args: list[str]) -> int | None:
    parsed = _parse(snap["tree"], args)
    if parsed is None or parsed.path != "status" or parsed.eager:
        return None
    from aura_db.cli import common, status

    common.ONE_COMMAND_PROCESS = True
    options = parsed.values["status"]
    app = common.app_state(parsed.values[""])
    app.json = bool(options.get("json_out"))
    try:
        status.run(app, check=bool(options.get("check")), json_out=app.json)
    except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 - as the Typer path reports them
        return common.finish(app, exc, verbose=app.verbose)
    return common.finish(app)


# -- completion ----------------------------------------------------------------


def _split(line: str) -> list[str] | None:
    """Words as click's split_arg_string (shlex) gives them, for lines without quoting."""
    if any(c in line for c in "\"'\\"):
        return None
    for c in "\t\r\n":
        line = line.replace(c, " ")
    return [w for w in line.split(" ") if w]


def _request(shell: str, environ: Any) -> tuple[list[str], str] | None:
    """(complete words after the program name, the word being typed), as Typer reads them."""
    if shell == "bash":
        words = _split(environ.get("COMP_WORDS", ""))
        try:
            cword = int(environ["COMP_CWORD"])
        except (KeyError, ValueError):
            return None
        if words is None or cword < 1:
            return None
        return words[1:cword], words[cword] if cword < len(words) else ""
    line = environ.get("_TYPER_COMPLETE_ARGS", "")
    words = _split(line)
    if words is None:
        return None
    if shell in ("zsh", "fish"):
        args = words[1:]
        if args and not line.endswith(" "):
            return args[:-1], args[-1]
        return args, ""
    incomplete = environ.get("_TYPER_COMPLETE_WORD_TO_COMPLETE", "")
    return (words[1:-1] if incomplete else words[1:]), incomplete


class _Root:
    """What the value completers read of click's context: the root's parameters."""

    def __init__(self, params: dict[str, Any]):
        self.params = params

    def find_root(self) -> _Root:
        return self


class _Command:
    """The same for the command being completed: its own parameters, and the root's."""

    def __init__(self, params: dict[str, Any], root: _Root):
        self.params = params
        self._root = root

    def find_root(self) -> _Root:
        return self._root


def _items(snap: dict[str, Any], words: list[str], incomplete: str) -> list[tuple[str, Any]] | None:
    """(value, help as each shell shows it) pairs, as click's completion finds them."""
    if incomplete == "=":
        incomplete = ""
    elif "=" in incomplete and incomplete.startswith("-"):
        name, _, incomplete = incomplete.partition("=")
        words = [*words, name]
    if "--" in words:
        return None
    tree = snap["tree"]
    parsed = _parse(tree, words, partial=True)
    if parsed is None:
        return None
    node = tree[parsed.path]
    if incomplete.startswith("-"):
        return _command_items(node, parsed, incomplete)
    if parsed.pending is not None:
        return _value_items(parsed.pending, parsed, incomplete)
    given = parsed.given[parsed.path]
    if len(given) < len(node["arguments"]):
        return _value_items(node["arguments"][len(given)], parsed, incomplete)
    return _command_items(node, parsed, incomplete)


def _command_items(node: dict[str, Any], parsed: _Parsed, incomplete: str) -> list[tuple[str, Any]] | None:
    items: list[tuple[str, Any]] = []
    for sub in node.get("commands", []):
        if sub["name"].startswith(incomplete):
            items.append((sub["name"], sub["shown"]))
    if incomplete and not incomplete[0].isalnum():
        used = parsed.values[parsed.path]
        for opt in node["options"]:
            if opt.get("unknown"):
                return None
            if opt["hidden"] or (not opt["multiple"] and opt["name"] in used):
                continue
            items.extend((name, opt["shown"]) for name in opt["opts"] if name.startswith(incomplete))
    return items


def _value_items(param: dict[str, Any], parsed: _Parsed, incomplete: str) -> list[tuple[str, Any]] | None:
    kind = param["complete"]
    if kind == ["none"]:
        return []
    if kind == ["echo"]:
        return [(incomplete, None)]
    if kind[0] != "fn":
        return None
    from aura_db.cli import completion

    fn = getattr(completion, kind[1], None)
    if fn is None:
        return None
    root = _Root(parsed.values[""])
    ctx = _Command(parsed.values[parsed.path], root) if parsed.path else root
    return [(value, None) for value in fn(ctx, incomplete) if value.startswith(incomplete)]


def zsh_escape(s: str) -> str:
    """A value or help text quoted as typer._completion_classes.ZshComplete quotes it."""
    return s.replace('"', '""').replace("'", "''").replace("$", "\\$").replace("`", "\\`").replace(":", r"\\:")


def _complete(snap: dict[str, Any], environ: Any) -> int | None:
    """Typer's completion protocol: ``_AURA_DB_COMPLETE=complete_<shell>``."""
    instruction, _, shell = environ.get(COMPLETE_VAR, "").partition("_")
    if instruction != "complete" or shell not in ("bash", "zsh", "fish", "powershell", "pwsh"):
        return None
    request = _request(shell, environ)
    if request is None:
        return None
    items = _items(snap, *request)
    if items is None:
        return None
    key = "powershell" if shell == "pwsh" else shell

    def shown(help_: Any) -> str | None:
        return help_[key] if help_ else None

    if shell == "bash":
        text = "\n".join(value for value, _ in items)
    elif shell == "zsh":
        lines = [f'"{zsh_escape(v)}":"{shown(h)}"' if h else f'"{zsh_escape(v)}"' for v, h in items]
        text = "_arguments '*: :((" + "\n".join(lines) + "))'" if lines else "_files"
    elif shell == "fish":
        lines = [f"{v}\t{shown(h)}" if h else v for v, h in items]
        action = environ.get("_TYPER_COMPLETE_FISH_ACTION", "")
        if action == "is-args":
            return 0 if lines else 1
        text = "\n".join(lines) if action == "get-args" else ""
    else:
        text = "\n".join(f"{v}:::{shown(h) if h else ' '}" for v, h in items)
    _write(sys.stdout, text + "\n")
    return 0
