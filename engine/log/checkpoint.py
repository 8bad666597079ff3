"""Signed checkpoints of the decision log: (record count, head hash), signed with Ed25519.

Why: the hash chain alone proves nothing to someone who can write the database. Whoever
can change a record can recompute every hash after it, and whoever deletes the newest
records leaves a shorter chain that is just as intact. A trusted log (Certificate
Transparency's signed tree heads, Trillian's checkpoints) therefore publishes signed
statements of its size and head to a place the log's writer does not control. So does
this one:

- the private key lives in a file outside the database (`TIAOKUAI_CHECKPOINT_KEY`,
  created 0600 on first use); the public key is all a verifier needs;
- every `interval` seconds (when the head moved) and when the log closes, the service
  appends `{"origin", "count", "head", "chains", "time", "signature"}` as one JSON line to
  the checkpoint file (`TIAOKUAI_CHECKPOINTS`); `tiaokuai audit checkpoint` prints one to
  export to a witness;
- `chains` signs every hash chain the database holds — each jurisdiction's decisions and
  the case events — as (records in it, its last hash): a chain that is not the newest
  record's is anchored too (format 2; format-1 lines, without chains, still verify);
- `verify_against` checks each checkpoint's signature and that the log still holds
  `count` records whose last hash is `head`, and every signed chain its records and last
  hash: a rewritten (and re-chained) record before a checkpoint, in any chain, or a log
  truncated below one, is found.

What it cannot see: changes to records written after the newest checkpoint (the chain
still shows changes to those that a re-hash does not cover), and anything done by
someone who holds the private key and can also rewrite every copy of the checkpoints.
"""

from __future__ import annotations

import base64
import dataclasses
import fcntl
import hashlib
import json
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from engine.errors import CheckpointError

FORMAT = "tiaokuai-checkpoint/1"  # count and head only
FORMAT_CHAINS = "tiaokuai-checkpoint/2"  # and every chain's (records, last hash)

Chain = tuple[str, int, str]  # (chain name, records in it, hash of its last record)


@dataclass(frozen=True)
class Heads:
    """What a checkpoint signs: the database's record count and newest hash, and each chain."""

    count: int
    head: str
    chains: tuple[Chain, ...] = ()


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement: the log named `origin` held `count` records ending in `head`."""

    origin: str
    count: int
    head: str
    time: str
    signature: str = ""
    chains: tuple[Chain, ...] = ()

    def _chains(self) -> dict[str, list[int | str]]:
        return {name: [count, head] for name, count, head in self.chains}

    def body(self) -> bytes:
        """The signed bytes: canonical JSON of everything but the signature."""
        data: dict[str, object] = {"format": FORMAT, "origin": self.origin, "count": self.count, "head": self.head, "time": self.time}
        if self.chains:
            data |= {"format": FORMAT_CHAINS, "chains": self._chains()}
        return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

    def to_json(self) -> str:
        data: dict[str, object] = {"origin": self.origin, "count": self.count, "head": self.head, "time": self.time}
        if self.chains:
            data["chains"] = self._chains()
        return json.dumps({**data, "signature": self.signature}, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_json(cls, line: str) -> Checkpoint:
        data = json.loads(line)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        count, head = data.get("count"), data.get("head")
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise ValueError("`count` must be a non-negative integer")
        if not isinstance(head, str) or len(head) != 64:
            raise ValueError("`head` must be 64 hex digits")
        return cls(str(data.get("origin", "")), count, head, str(data.get("time", "")), str(data.get("signature", "")), _chains_of(data.get("chains", {})))


def _chains_of(value: object) -> tuple[Chain, ...]:
    if not isinstance(value, dict):
        raise ValueError("`chains` must be an object")
    chains = []
    for name, entry in value.items():
        match entry:
            case [int(count), str(head)] if count >= 0 and not isinstance(count, bool) and len(head) == 64:
                chains.append((str(name), count, head))
            case _:
                raise ValueError(f"chain `{name}` must be [records, 64 hex digits]")
    return tuple(sorted(chains))


@dataclass(frozen=True)
class Signer:
    """The checkpoint key: signs checkpoints and names the log by its public key."""

    private: Ed25519PrivateKey

    @property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()

    @property
    def origin(self) -> str:
        return origin_of(self.public)

    def sign(self, heads: Heads, time: str) -> Checkpoint:
        unsigned = Checkpoint(self.origin, heads.count, heads.head, time, chains=tuple(sorted(heads.chains)))
        signature = base64.b64encode(self.private.sign(unsigned.body())).decode("ascii")
        return dataclasses.replace(unsigned, signature=signature)


def origin_of(public: Ed25519PublicKey) -> str:
    """A log's name: `tiaokuai:` and the first 16 hex digits of its public key's sha256."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "tiaokuai:" + hashlib.sha256(raw).hexdigest()[:16]


def load_or_create_key(path: Path) -> Signer:
    """The private key at `path` (PKCS#8 PEM); created (mode 0600) when the file does not exist."""
    try:
        return Signer(_load_private(path.read_bytes(), path))
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise CheckpointError(f"cannot read the checkpoint key `{path}`: {exc.strerror}") from None
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    # NOTE: written whole to a private temporary file and linked into place, so a replica
    # starting at the same moment sees either no key or the complete one, never a partial file.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(tmp, path)
    except FileExistsError:  # another process created it meanwhile: use theirs
        return Signer(_load_private(path.read_bytes(), path))
    except OSError as exc:
        raise CheckpointError(f"cannot create the checkpoint key `{path}`: {exc.strerror}") from None
    finally:
        tmp.unlink(missing_ok=True)
    write_public_key(key.public_key(), path.with_name(path.name + ".pub"))
    return Signer(key)


def write_public_key(public: Ed25519PublicKey, path: Path) -> None:
    path.write_bytes(public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))


def _load_private(data: bytes, path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise CheckpointError(f"`{path}` is not an unencrypted PEM private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise CheckpointError(f"`{path}` is not an Ed25519 key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """A public key (PEM), or the public half of a private key file."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CheckpointError(f"cannot read `{path}`: {exc.strerror}") from None
    if b"PRIVATE KEY" in data:
        return _load_private(data, path).public_key()
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise CheckpointError(f"`{path}` is not a PEM public key: {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise CheckpointError(f"`{path}` is not an Ed25519 key")
    return key


class CheckpointFile:
    """An append-only file of checkpoints, one JSON line each (several processes may append)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, checkpoint: Checkpoint) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            with os.fdopen(fd, "a", encoding="utf-8") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)  # whole lines, even from several replicas
                handle.write(checkpoint.to_json() + "\n")
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            raise CheckpointError(f"cannot write the checkpoint file `{self.path}`: {exc.strerror}") from None

    def read(self) -> list[tuple[int, Checkpoint]]:
        """(line number, checkpoint) for every line; raises CheckpointError naming a bad line."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        except (OSError, UnicodeDecodeError) as exc:
            raise CheckpointError(f"cannot read the checkpoint file `{self.path}`: {exc}") from None
        out = []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                out.append((number, Checkpoint.from_json(line)))
            except ValueError as exc:
                raise CheckpointError(f"{self.path}:{number}: not a checkpoint: {exc}") from None
        return out


@dataclass(frozen=True)
class CheckpointProblem:
    """Why the log does not match a checkpoint (or a checkpoint is not genuine)."""

    line: int
    checkpoint: Checkpoint
    reason: str


def verify_against(
    checkpoints: Iterable[tuple[int, Checkpoint]],
    public: Ed25519PublicKey,
    count: int,
    hash_at: Callable[[int], str | None],
    chain_lengths: Mapping[str, int] | None = None,
    chain_hash_at: Callable[[str, int], str | None] | None = None,
) -> tuple[int, CheckpointProblem | None]:
    """Check a log of `count` records against signed checkpoints.

    `hash_at(n)` is the stored hash of record #n (None if absent); `chain_lengths` the
    records each chain holds now and `chain_hash_at(chain, n)` the hash of a chain's n-th
    record. Returns how many checkpoints were checked and the first problem: a bad
    signature or a foreign origin (the file was forged or belongs to another log), a log
    or a chain shorter than a checkpoint (records deleted or truncated), or a record whose
    hash is not the signed head (records before it rewritten).
    """
    origin = origin_of(public)
    checked = 0
    for line, cp in checkpoints:
        checked += 1
        try:
            public.verify(base64.b64decode(cp.signature, validate=True), cp.body())
        except (InvalidSignature, ValueError):
            return checked, CheckpointProblem(line, cp, "its signature does not verify with the checkpoint key (a forged or altered checkpoint)")
        if cp.origin != origin:
            return checked, CheckpointProblem(line, cp, f"it was signed for log `{cp.origin}`, not `{origin}`")
        if cp.count > count:
            lost = cp.count - count
            return checked, CheckpointProblem(
                line, cp, f"it was signed over {cp.count} records but the log holds {count}: {lost} record(s) were deleted or the log was truncated"
            )
        if cp.count and hash_at(cp.count) != cp.head:
            return checked, CheckpointProblem(
                line, cp, f"record #{cp.count} does not end the signed chain (head {cp.head[:16]}): records up to #{cp.count} were rewritten"
            )
        for name, signed, head in cp.chains:
            held = (chain_lengths or {}).get(name, 0)
            if signed > held:
                return checked, CheckpointProblem(
                    line, cp, f"it was signed over {signed} records of chain `{name}` but the log holds {held}: records were deleted"
                )
            if signed and (chain_hash_at is None or chain_hash_at(name, signed) != head):
                return checked, CheckpointProblem(
                    line, cp, f"record {signed} of chain `{name}` does not end the signed chain (head {head[:16]}): "
                              f"records of `{name}` up to it were rewritten"
                )
    return checked, None


class Checkpointer:
    """Writes a signed checkpoint of the log's head every `interval` seconds (when it moved)
    and once more on `stop()`. `heads()` reads what to sign from the database."""

    def __init__(self, signer: Signer, file: CheckpointFile, heads: Callable[[], Heads], clock: Callable[[], str], interval: float) -> None:
        self.signer, self.file, self._heads, self._clock, self.interval = signer, file, heads, clock, interval
        self._last: Heads | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.error: str | None = None

    def write(self, force: bool = False) -> Checkpoint | None:
        """Sign and append the current head (unless unchanged since the last one and not `force`)."""
        with self._lock:
            heads = self._heads()
            if not force and self._last == heads:
                return None
            checkpoint = self.signer.sign(heads, self._clock())
            try:
                self.file.append(checkpoint)
            except CheckpointError as exc:
                self.error = str(exc)
                raise
            self.error = None
            self._last = heads
            return checkpoint

    def start(self) -> None:
        if self.interval <= 0 or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="tiaokuai-checkpoints", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.write()
            except Exception as exc:  # noqa: BLE001 - kept in .error (healthz shows it); tried again next interval
                self.error = str(exc)

    def stop(self) -> None:
        """Stop the timer and write the final checkpoint (the head as the log closes)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.write()
