"""Encryption of backups in the age format (https://age-encryption.org/v1), streamed, by pyrage.

A leaf above ``files``: recipients and identities are read and checked here,
and the two stream adapters plug into the chain of ``files``:

* ``Sealer``: the last layer of ``files.HashingWriter`` (compress, then
  encrypt, then hash and write): what reaches the disk is the age file.
* ``open_sealed``: the first layer when reading (decrypt, then decompress).

pyrage (Rust's ``age`` crate) is used rather than driving the ``age`` tool
through pipes: it is a wheel (nothing to install on the host), a bad key is
refused in-process before a byte is written, and ``encrypt_io``/``decrypt_io``
stream - they read and write through file-like objects in 8-64 KiB pieces.
Both directions run on a thread of their own fed through a bounded queue, so
memory stays at ``QUEUE_DEPTH`` chunks whatever the size of the backup, and
plaintext only ever exists in memory.  The files are the age format the
``age`` command-line tool reads and writes (tests/test_backup_encrypt.py
checks both directions with the real tool).
"""

from __future__ import annotations

import base64
import hashlib
import queue
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from aura_db.backup.files import CHUNK
from aura_db.errors import AuraError, CheckFailed, UsageError

FORMAT = "age"
SUFFIX = ".age"
QUEUE_DEPTH = 8  # chunks in flight between the caller and the age stream: a few MiB at most
SSH_TYPES = ("ssh-ed25519", "ssh-rsa")
_ENV_RECIPIENTS = "AURA_DB_BACKUP_RECIPIENTS"


@dataclass(frozen=True)
class Recipient:
    """One public key a backup is encrypted to, and how the manifest names it (never a secret)."""

    type: str  # "x25519" (an age1... key), "ssh-ed25519" or "ssh-rsa"
    public: str  # the age1... key, or "ssh-ed25519 AAAA..." without its comment
    key: Any  # the pyrage recipient

    def describe(self) -> dict[str, str]:
        if self.type == "x25519":
            return {"type": "x25519", "recipient": self.public}
        # An SSH key is named as ssh-keygen -l names it; its comment (often
        # user@host) is left out.
        blob = base64.b64decode(self.public.split()[1])
        fp = base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
        return {"type": self.type, "fingerprint": f"SHA256:{fp}"}


def split_recipients(text: str) -> list[str]:
    """The recipients in a setting's text: separated by commas or new lines (an SSH key holds spaces)."""
    return [part.strip() for line in text.splitlines() for part in line.split(",") if part.strip()]


def _parse_key(text: str, origin: str) -> Recipient:
    import pyrage

    text = text.strip()
    if text.startswith("AGE-SECRET-KEY-") or "PRIVATE KEY" in text:
        raise UsageError(f"{origin} is a secret key, not a recipient",
                         hint="give the public key: `age-keygen -y KEYFILE`, or the .pub of an SSH key")
    try:
        if text.startswith("age1"):
            return Recipient("x25519", text, pyrage.x25519.Recipient.from_str(text))
        kind = text.split(None, 1)[0]
        if kind in SSH_TYPES:
            parts = text.split()
            if len(parts) < 2:
                raise ValueError("no key after the key type")
            public = f"{parts[0]} {parts[1]}"
            return Recipient(kind, public, pyrage.ssh.Recipient.from_str(public))
    except (pyrage.RecipientError, ValueError) as exc:
        raise UsageError(f"{origin} is not a valid age recipient: {_first_line(exc)}",
                         hint="an age1... public key (age-keygen -y KEYFILE), an ssh-ed25519/ssh-rsa public key, "
                              "or a file of them, one a line") from None
    raise UsageError(f"{origin} is not an age recipient",
                     hint="give an age1... public key, an ssh-ed25519/ssh-rsa public key, or a file of them, one a line")


def parse_recipients(specs: "list[str] | tuple[str, ...]", *, cwd: Path | None = None) -> list[Recipient]:
    """Each spec is a key (``age1...``, ``ssh-ed25519 ...``, ``ssh-rsa ...``) or a file of them.

    A file holds one key a line; blank lines and ``#`` comments are skipped
    (the format of ``age -R``).  Anything else is a UsageError (exit 2) naming
    it, before anything is written.  The same key given twice counts once.
    """
    found: list[Recipient] = []
    for spec in specs:
        spec = spec.strip()
        if not spec:
            continue
        if spec.startswith("age1") or spec.split(None, 1)[0] in SSH_TYPES or spec.startswith("AGE-SECRET-KEY-"):
            found.append(_parse_key(spec, _shown(spec)))
            continue
        path = Path(spec)
        if cwd is not None and not path.is_absolute():
            path = cwd / path
        if not path.is_file():
            raise UsageError(f"recipient {_shown(spec)!r} is neither an age recipient nor a file of them",
                             hint="give an age1... public key, an ssh-ed25519/ssh-rsa public key, or a file of them")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read recipients file {path}: {getattr(exc, 'strerror', None) or exc}") from None
        keys = [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1)
                if line.strip() and not line.lstrip().startswith("#")]
        if not keys:
            raise UsageError(f"recipients file {path} holds no recipient",
                             hint="one age1... or SSH public key a line; # starts a comment")
        found.extend(_parse_key(line, f"{path}:{n}") for n, line in keys)
    unique: dict[str, Recipient] = {}
    for r in found:
        unique.setdefault(r.public, r)
    return list(unique.values())


def _shown(spec: str) -> str:
    return spec if len(spec) <= 72 else spec[:69] + "..."


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# --------------------------------------------------------------------------
# identities


@dataclass(frozen=True)
class Identities:
    """The secret keys of an identity file, and where they came from (for messages)."""

    path: Path
    keys: tuple[Any, ...]
    publics: tuple[str, ...]  # the age1... of its X25519 keys (an SSH identity shows none)


def load_identities(path: "str | Path", *, cwd: Path | None = None) -> Identities:
    """The identities in ``path``: an age key file (age-keygen's) or an unencrypted SSH private key.

    UsageError (exit 2) when the file is missing, unreadable or holds no key
    pyrage can use (a passphrase-protected one included: aura-db runs
    unattended and never prompts).
    """
    import pyrage

    p = Path(path)
    if cwd is not None and not p.is_absolute():
        p = cwd / p
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read identity file {p}: {exc.strerror or exc}",
                         hint="pass --identity with the age key file (age-keygen's) or SSH private key") from None
    if data.startswith(b"age-encryption.org/"):
        raise UsageError(f"identity file {p} is itself encrypted (passphrase-protected); aura-db does not prompt",
                         hint="decrypt it into a private file first (age -d), or keep the key on a hardware token")
    if b"-----BEGIN" in data:
        try:
            return Identities(p, (pyrage.ssh.Identity.from_buffer(data),), ())
        except (pyrage.IdentityError, ValueError) as exc:
            raise UsageError(f"identity file {p} holds no usable SSH key: {_first_line(exc)}",
                             hint="an unencrypted ssh-ed25519 or ssh-rsa private key (a passphrase-protected "
                                  "key cannot be read unattended)") from None
    keys, publics = [], []
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = ""
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            key = pyrage.x25519.Identity.from_str(line)
        except (pyrage.IdentityError, ValueError):
            raise UsageError(f"identity file {p}:{n} is not an age secret key",
                             hint="an identity file holds AGE-SECRET-KEY-1... lines (age-keygen) or is an "
                                  "SSH private key") from None
        keys.append(key)
        publics.append(str(key.to_public()))
    if not keys:
        raise UsageError(f"identity file {p} holds no key",
                         hint="pass the file age-keygen wrote, or an SSH private key")
    return Identities(p, tuple(keys), tuple(publics))


def as_identities(identity: "Identities | str | Path | None") -> "Identities | None":
    """An identity file's keys: ``identity`` loaded when it is a path, as it is otherwise."""
    if identity is None or isinstance(identity, Identities):
        return identity
    return load_identities(identity)


def missing_identity(name: str, manifest: Any, what: str) -> UsageError:
    return UsageError(f"{name} is encrypted ({who(manifest)}): {what} needs its identity",
                      hint="pass --identity FILE (or set AURA_DB_BACKUP_IDENTITY) with a key it was encrypted to")


def who(manifest: Any) -> str:
    """The recipients of an encrypted backup, briefly: "to age1abc..., ssh-ed25519 SHA256:..."."""
    names = []
    for r in getattr(manifest, "recipients", None) or []:
        if r.get("type") == "x25519":
            names.append(str(r.get("recipient", ""))[:16] + "...")
        else:
            names.append(f"{r.get('type')} {r.get('fingerprint')}")
    return "to " + ", ".join(names) if names else "age"


# --------------------------------------------------------------------------
# streams


class _Closed(Exception):
    """The other side of a stream adapter gave up."""


class _ChunkReader:
    """A readable file over byte chunks: ``next_chunk()`` gives the next one, None at the end."""

    def __init__(self, next_chunk: "Callable[[], bytes | None]"):
        self._next = next_chunk
        self.view = memoryview(b"")
        self.eof = False

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        while not self.view and not self.eof:
            item = self._next()
            if item is None:
                self.eof = True
            else:
                self.view = memoryview(item)
        n = len(self.view) if n is None or n < 0 else n
        data, self.view = self.view[:n], self.view[n:]
        return data.tobytes()


class Sealer:
    """The encrypting layer: ``write`` plaintext, ``finish``; the age file goes to ``put`` on a thread.

    ``put`` is called from the encrypting thread only, in order; after
    ``finish`` returns it is never called again.  ``abort`` stops the
    thread (whatever was written so far is to be thrown away) and must be
    called before whatever ``put`` writes to is closed.
    """

    def __init__(self, recipients: list[Recipient], put: Callable[[bytes], None]):
        if not recipients:
            raise UsageError("no recipient to encrypt to")
        self._q: "queue.Queue[bytes | None]" = queue.Queue(maxsize=QUEUE_DEPTH)
        self._error: list[BaseException] = []
        self._stop = threading.Event()
        self._done = False
        keys = [r.key for r in recipients]
        sealer = self

        def next_plain() -> "bytes | None":
            while True:
                if sealer._stop.is_set():
                    raise _Closed()
                try:
                    return sealer._q.get(timeout=0.2)  # None: the end
                except queue.Empty:
                    continue

        class Sink:
            def writable(self) -> bool:
                return True

            def write(self, data: bytes) -> int:
                if sealer._stop.is_set():
                    raise _Closed()
                try:
                    put(data)
                except BaseException as exc:  # a full disk: said as itself, not as pyrage's I/O error
                    sealer._error.append(exc)
                    raise
                return len(data)

            def flush(self) -> None:
                pass

        def run() -> None:
            import pyrage

            try:
                pyrage.encrypt_io(_ChunkReader(next_plain), Sink(), keys)
            except BaseException as exc:  # noqa: BLE001 - handed to the writer
                self._error.append(exc)  # after the original, if Sink.write saw it first
                self._stop.set()

        self._thread = threading.Thread(target=run, name="aura-db-age-encrypt", daemon=True)
        self._thread.start()

    def _raise(self) -> None:
        exc = self._error[0]
        if isinstance(exc, OSError):
            raise exc
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, (OSError, AuraError)):
            raise cause
        raise AuraError(f"age encryption failed: {_first_line(exc)}")

    def write(self, data: "bytes | memoryview") -> None:
        if not isinstance(data, bytes):
            data = bytes(data)  # the caller may reuse its buffer
        while True:
            if self._error:
                self._raise()
            try:
                self._q.put(data, timeout=0.2)
                return
            except queue.Full:
                continue

    def finish(self) -> None:
        while not self._error:
            try:
                self._q.put(None, timeout=0.2)
                break
            except queue.Full:
                continue
        self._thread.join()
        self._done = True
        if self._error:
            self._raise()

    def abort(self) -> None:
        if self._done:
            return
        self._stop.set()
        self._thread.join()
        self._done = True


def open_sealed(raw: Iterator[bytes], identities: Identities, name: str, *,
                chunk: int = CHUNK) -> Iterator[bytes]:
    """The plaintext of the age file whose bytes ``raw`` yields, in chunks of at most ``chunk``.

    A key that does not open it is a UsageError (exit 2: the identity given is
    wrong, the backup is not damaged); a file that fails age's
    authentication is CheckFailed (exit 3).  Closing the generator early
    stops the decrypting thread.
    """
    out: "queue.Queue[tuple[str, Any]]" = queue.Queue(maxsize=QUEUE_DEPTH)
    stop = threading.Event()
    source_error: list[BaseException] = []

    def next_sealed() -> "bytes | None":
        if stop.is_set():
            raise _Closed()
        try:
            return next(raw)
        except StopIteration:
            return None
        except BaseException as exc:  # reading the file failed: said as itself
            source_error.append(exc)
            raise

    def send(item: tuple[str, Any]) -> None:
        while True:
            if stop.is_set():
                raise _Closed()
            try:
                out.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    class Sink:
        def __init__(self) -> None:
            self.buf = bytearray()

        def writable(self) -> bool:
            return True

        def write(self, data: bytes) -> int:
            self.buf += data
            if len(self.buf) >= chunk:
                send(("data", bytes(self.buf)))
                self.buf.clear()
            return len(data)

        def flush(self) -> None:
            pass

    def run() -> None:
        import pyrage

        sink = Sink()
        try:
            pyrage.decrypt_io(_ChunkReader(next_sealed), sink, list(identities.keys))
            if sink.buf:
                send(("data", bytes(sink.buf)))
            send(("end", None))
        except _Closed:
            pass
        except BaseException as exc:  # noqa: BLE001 - handed to the reader
            with _suppress_closed():
                send(("error", source_error[0] if source_error else exc))

    t = threading.Thread(target=run, name="aura-db-age-decrypt", daemon=True)
    t.start()
    try:
        while True:
            kind, value = out.get()
            if kind == "data":
                yield value
            elif kind == "end":
                return
            else:
                raise _decrypt_error(value, identities, name)
    finally:
        stop.set()
        while t.is_alive():
            try:
                out.get(timeout=0.05)
            except queue.Empty:
                pass
        t.join()


class _suppress_closed:
    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> bool:
        return kind is not None and issubclass(kind, _Closed)


def _decrypt_error(exc: BaseException, identities: Identities, name: str) -> AuraError:
    cause = exc.__cause__ or exc.__context__
    if isinstance(exc, AuraError):
        return exc
    if isinstance(exc, OSError) and exc.errno is not None:
        return AuraError(f"cannot read {name}: {exc.strerror or exc}")
    if isinstance(cause, AuraError):
        return cause
    text = _first_line(exc)
    if "no matching keys" in text.lower():
        return UsageError(f"{name}: the identity in {identities.path} does not open it (it is encrypted to other "
                          "keys)",
                          hint="pass --identity with a key it was encrypted to (its manifest lists them)")
    if isinstance(exc, OSError) and exc.errno is not None:  # the disk, not the age stream (which has no errno)
        return AuraError(f"cannot read {name}: {exc.strerror or exc}")
    return CheckFailed(f"{name}: age decryption failed ({text}): the file is damaged or not an age file")
