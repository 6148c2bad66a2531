"""One writer at a time: the write lease kept in the root document itself.

A store's root ``zarr.json`` is the one object every write changes, so it also
carries the write lease: ``zarr_vectors_writer.lease`` = who holds the store
(a random owner token, host and process id) and until when. A writer takes the
lease with a conditional write of the root (``put_if`` on the version it read:
create-only when there is no root yet), renews it from a background thread
while it works, makes every later root write conditional on the version it
last wrote, and gives it back with its final (commit) write. So:

* two writers never hold a store at once: the second one's conditional write
  fails, it waits (with backoff, up to ``timeout`` seconds) and then raises
  :class:`~zarr_vectors.exceptions.ConcurrentWriteError`;
* a writer that died (SIGKILL, power loss) stops renewing; once its lease has
  expired the next writer takes the store over and first repairs whatever the
  dead one left (see :func:`zarr_vectors.format.transaction.recover`);
* a writer whose lease was lost (it stalled past the lease, and another writer
  took over) finds out at its next root write, which fails, and stops before
  publishing anything.

Leases compare wall-clock times of different machines: their clocks must
agree to well within the lease (60 s by default; ``ZARR_VECTORS_LEASE_SECONDS``).

A backend without conditional writes (``conditional_writes = False``) cannot
take the root conditionally, so there the lease rests on *claims* instead:
each writer first puts an object of its own, ``.zv-claims/<owner>.json``
(nobody else ever writes that key, so no write can be lost), then lists
``.zv-claims/``. Only a writer that finds no live claim but its own goes on;
one that finds another takes its claim back and waits (with backoff) as
above. Of two writers the later lister always sees the earlier one's claim, so
at most one goes on (both may step back, and retry after a random delay); a
writer that claimed while the store was held sees the holder's claim and is
refused. This needs only what every backend has (put, list, delete) and
listings that show a finished put, which local disks, S3, GCS and Azure give.
The holder renews its claim with its lease and deletes it when done; a dead
writer's claim expires like its lease.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Protocol, Self

from zarr_vectors.exceptions import (
    ConcurrentWriteError,
    PreconditionFailedError,
    StoreError,
)
from zarr_vectors.format.journal import CLAIMS_PREFIX, ROOT_KEY, Pending
from zarr_vectors.format.metadata import WRITER_KEY, dump_json
from zarr_vectors.storage.base import StorageBackend

__all__ = [
    "DEFAULT_LEASE_SECONDS",
    "DEFAULT_WAIT_SECONDS",
    "RootLease",
    "claim_key",
    "lease_of",
]

#: How long a lease lasts without renewal (renewed every third of it).
DEFAULT_LEASE_SECONDS = 60.0
#: How long a writer waits for another writer's lease before giving up.
DEFAULT_WAIT_SECONDS = 120.0
LEASE_ENV_VAR = "ZARR_VECTORS_LEASE_SECONDS"


def lease_of(doc: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The lease recorded in a root document, if any."""
    if not doc:
        return None
    attrs = doc.get("attributes")
    writer = attrs.get(WRITER_KEY) if isinstance(attrs, Mapping) else None
    lease = writer.get("lease") if isinstance(writer, Mapping) else None  # garbage: no lease
    return dict(lease) if isinstance(lease, Mapping) else None


def without_lease(doc: Mapping[str, Any]) -> dict[str, Any]:
    """``doc`` with the lease taken out (what readers and the final commit see)."""
    out = json.loads(json.dumps(doc))
    writer = (out.get("attributes") or {}).get(WRITER_KEY)
    if isinstance(writer, dict):
        writer.pop("lease", None)
    return out  # type: ignore[no-any-return]


def _with_lease(doc: Mapping[str, Any], lease: Mapping[str, Any]) -> dict[str, Any]:
    out = without_lease(doc)
    attrs = out.setdefault("attributes", {})
    writer = attrs.get(WRITER_KEY)
    if not isinstance(writer, dict):
        writer = attrs[WRITER_KEY] = {}
    writer["lease"] = dict(lease)
    return out


def claim_key(owner: str) -> str:
    """Key of a writer's claim on a store without conditional writes (see the module)."""
    return f"{CLAIMS_PREFIX}/{owner}.json"


def _lease_seconds() -> float:
    text = os.environ.get(LEASE_ENV_VAR)
    if not text:
        return DEFAULT_LEASE_SECONDS
    try:
        value = float(text)
    except ValueError:
        raise StoreError(f"{LEASE_ENV_VAR} must be a number of seconds, got {text!r}") from None
    if not value > 0:
        raise StoreError(f"{LEASE_ENV_VAR} must be > 0 seconds, got {text!r}")
    return value


class LeaseClock(Protocol):
    """The time a lease is judged by, and how its renewer waits (a test passes a fake one)."""

    def time(self) -> float:
        """Seconds since the epoch (tickets compare across machines: wall-clock time)."""
        ...

    def wait(self, stop: threading.Event, seconds: float) -> bool:
        """Wait ``seconds`` or until ``stop`` is set; return whether it was set."""
        ...


class WallClock:
    """The real clock: ``time.time`` and ``Event.wait``."""

    def time(self) -> float:
        return time.time()

    def wait(self, stop: threading.Event, seconds: float) -> bool:
        return stop.wait(seconds)


class RootLease:
    """The write lease on one store's root, held for the length of a ``with`` block.

    ``doc`` is the root document as it was when the lease was taken (without
    the lease; ``None`` when there was no root). :meth:`put` writes a new root
    that keeps the lease; :meth:`release` writes the final one without it.
    Leaving the block without :meth:`release` (an error) gives the lease back
    with the root as it last wrote it, journal entry included, so the next
    writer repairs the store.
    """

    def __init__(
        self,
        backend: StorageBackend,
        *,
        wait: float | None = None,
        seconds: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: LeaseClock | None = None,
    ) -> None:
        self.backend = backend
        self.wait = DEFAULT_WAIT_SECONDS if wait is None else float(wait)
        self.seconds = _lease_seconds() if seconds is None else float(seconds)
        self.owner = uuid.uuid4().hex
        self.doc: dict[str, Any] | None = None
        self.took_over: dict[str, Any] | None = None
        #: The root was there but is not a JSON object (only a replace may proceed).
        self.unreadable_root = False
        self._sleep = sleep
        #: Wall clock of tickets and checks, and the renewer's timer (a test's fake one).
        self._clock: LeaseClock = clock if clock is not None else WallClock()
        self._version: str | None = None
        self._current: dict[str, Any] | None = None  # last root written, lease included
        #: ``(root, its lease's expiry)``: parsed once per root written, not once per check
        #: (a batch write checks before each of thousands of files).
        self._expiry: tuple[dict[str, Any] | None, Any] = (None, None)
        self._held = False
        self._lost: BaseException | None = None
        self._mutex = threading.Lock()
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None
        self._conditional = bool(getattr(backend, "conditional_writes", False))
        self._claimed = False  # a claim of ours may be stored (no conditional writes)
        self._fence: contextlib.AbstractContextManager[None] = contextlib.nullcontext()

    # -- taking the lease -------------------------------------------------------------
    def __enter__(self) -> Self:
        self._acquire()
        # Every write through the backend checks the lease first while it is held
        # (Backend.write_fence): a writer stalled past its lease stops at the next object.
        fence = getattr(self.backend, "write_fence", None)
        self._fence = fence(self.check) if fence is not None else contextlib.nullcontext()
        self._fence.__enter__()
        self._renewer = threading.Thread(
            target=self._renew_loop, name="zarr-vectors-lease", daemon=True
        )
        try:
            self._renewer.start()
        except BaseException:
            self._renewer = None
            self.__exit__(None, None, None)  # give the lease back, lift the fence
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop_renewing()
        try:
            if self._held and self._current is not None:
                # Failed part way: give the lease back, keep the journal for the next writer.
                self._held = False
                # If even this fails, the lease simply expires and the next writer repairs.
                with contextlib.suppress(Exception):
                    self._write(without_lease(self._current))
        finally:
            self._fence.__exit__(None, None, None)
            self._drop_claim()

    def _ticket(self) -> dict[str, Any]:
        now = self._clock.time()
        return {
            "owner": self.owner,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "since": round(now, 3),
            "expires": round(now + self.seconds, 3),
        }

    def _read(self) -> tuple[dict[str, Any] | None, str | None]:
        """The root document and its version, read consistently (head, get, head)."""
        for _ in range(20):
            try:
                before = self.backend.head(ROOT_KEY).version
                raw = self.backend.get_bytes(ROOT_KEY)
                after = self.backend.head(ROOT_KEY).version
            except KeyError:
                return None, None
            if before == after:
                try:
                    doc = json.loads(raw)
                except ValueError:
                    doc = None
                if not isinstance(doc, dict):
                    doc = {"_unreadable": True}
                return doc, after
        raise ConcurrentWriteError(
            f"{self.backend.url}: the root document keeps changing while being read; "
            "another process is writing it very often. Retry later."
        )

    def _acquire(self) -> None:
        deadline = time.monotonic() + self.wait
        delay = 0.02
        holder: dict[str, Any] | None = None
        while True:
            doc, version = self._read()
            held = lease_of(doc)
            if _live(held, self.owner, self._clock.time()):
                holder = held
            else:
                usable = doc is not None and not doc.get("_unreadable")
                base = doc if usable and doc is not None else _placeholder_root()
                mine = _with_lease(base, self._ticket())
                if self._take_making_room(mine, version, doc):
                    self.doc = without_lease(doc) if usable and doc is not None else None
                    self.unreadable_root = doc is not None and not usable
                    self.took_over = held if held and held.get("owner") != self.owner else None
                    return
            if time.monotonic() >= deadline:
                raise ConcurrentWriteError(_busy_message(self.backend.url, holder, self.wait))
            self._sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 1.0)

    def _take_making_room(
        self, doc: dict[str, Any], version: str | None, found: Mapping[str, Any] | None
    ) -> bool:
        """:meth:`_try_take`, and on a full disk once more after deleting what a dead writer left.

        Taking the lease rewrites the root, which a full disk refuses; and a writer
        killed while staging a replace is what fills a disk. Its staged copy is
        deleted first (before the lease is taken: the root could not be written
        otherwise) when ``found``, the root read, names it in an unfinished replace
        that had not committed and no live lease holds the store: its writer, if
        still running, stops at its next write (its lease has run out) and cannot
        commit it. A staged copy being moved into place (a committed replace) is
        the store's new state and is never deleted.
        """
        try:
            return self._try_take(doc, version)
        except StoreError as exc:
            if not _disk_full(exc):
                raise
            if not _delete_dead_staged_copy(self.backend, found):
                raise StoreError(_full_disk_message(self.backend.url, found)) from exc
        try:
            return self._try_take(doc, version)
        except StoreError as exc:
            if not _disk_full(exc):
                raise
            raise StoreError(_full_disk_message(self.backend.url, None)) from exc

    def _try_take(self, doc: dict[str, Any], version: str | None) -> bool:
        data = dump_json(doc)
        if self._conditional:
            try:
                self._version = self.backend.put_if(ROOT_KEY, data, expect=version)
            except PreconditionFailedError:
                return False
        else:
            # No conditional writes: claim, then go on only if no one else claims.
            self._put_claim(doc)
            try:
                if self._rival_claimed():
                    self._drop_claim()
                    return False
                self.backend.put_bytes(ROOT_KEY, data)
            except BaseException:
                self._drop_claim()  # __exit__ will not run: __enter__ did not finish
                raise
        self._current = doc
        self._held = True
        return True

    # -- writing under the lease ----------------------------------------------------------
    def put(self, doc: Mapping[str, Any]) -> None:
        """Write ``doc`` as the root, keeping the lease (conditional on our last version)."""
        self._write(_with_lease(doc, self._ticket()))

    def release(self, doc: Mapping[str, Any]) -> None:
        """Write the final root (``doc``, no lease): the write is committed and the store free."""
        self._stop_renewing()
        self._write(without_lease(doc))
        self._held = False
        self._drop_claim()

    @property
    def held(self) -> bool:
        """Whether this writer holds the store (taken, and neither released nor lost)."""
        return self._held and self._lost is None

    def drop_root(self) -> None:
        """Delete the root instead of giving it back: a first write that failed leaves nothing.

        Only for a root this writer created (there was none when it took the
        lease); the caller has deleted whatever else the write put.
        """
        self._stop_renewing()
        with self._mutex:
            self.check()
            self.backend.delete(ROOT_KEY)
            self._held = False
        self._drop_claim()

    def check(self) -> None:
        """Raise if the lease was lost: stop before writing or publishing anything more.

        Lost means a root write failed (another writer took over), or this
        writer's own lease has expired: a process that was paused (SIGSTOP, a
        VM or swap stall) past its lease learns so on waking without a request,
        before its next batch could overwrite what a writer that took over has
        committed meanwhile.
        """
        if self._lost is None and self._held:
            current, (doc, expires) = self._current, self._expiry
            if doc is not current:
                expires = (lease_of(current) or {}).get("expires")
                self._expiry = (current, expires)
            if expires is not None and self._clock.time() >= float(expires):
                self._lost = ConcurrentWriteError(f"the write lease expired at {expires}")
        if self._lost is not None:
            raise ConcurrentWriteError(
                f"{self.backend.url}: this writer lost its write lease (it stalled for more "
                f"than {self.seconds:g} s and another writer took the store over); nothing "
                "more of this write is published. Write again."
            ) from self._lost

    def _write(self, doc: dict[str, Any]) -> None:
        with self._mutex:
            self.check()
            data = dump_json(doc)
            if self._conditional:
                try:
                    self._version = self.backend.put_if(ROOT_KEY, data, expect=self._version)
                except PreconditionFailedError as exc:
                    self._lost = exc
                    self._held = False
                    self.check()
            else:
                if not self.backend.exists(self._claim):
                    # Our claim expired and a writer that took over deleted it.
                    self._lost = ConcurrentWriteError("another writer took the store over")
                    self._held = False
                    self.check()
                if lease_of(doc) is not None:
                    self._put_claim(doc)  # renewed with the lease
                self.backend.put_bytes(ROOT_KEY, data)
            self._current = doc

    # -- claims (backends without conditional writes) ---------------------------------
    @property
    def _claim(self) -> str:
        return claim_key(self.owner)

    def _put_claim(self, doc: Mapping[str, Any]) -> None:
        self._claimed = True
        self.backend.put_bytes(self._claim, dump_json(lease_of(doc) or {}))

    def _drop_claim(self) -> None:
        """Take this writer's claim back, once (it expires anyway if this fails)."""
        if self._claimed:
            self._claimed = False
            with contextlib.suppress(Exception):
                self.backend.delete(self._claim)

    def _rival_claimed(self) -> bool:
        """Whether another writer holds a live claim; expired ones are cleared away."""
        rival = False
        for key in list(self.backend.list_prefix(f"{CLAIMS_PREFIX}/")):
            if key == self._claim:
                continue
            try:
                ticket = json.loads(self.backend.get_bytes(key))
            except KeyError:
                continue  # given back meanwhile
            except ValueError:
                ticket = None
            if not isinstance(ticket, dict):
                continue  # not a claim this package wrote
            if _live(ticket, self.owner, self._clock.time()):
                rival = True
            else:
                with contextlib.suppress(Exception):
                    self.backend.delete(key)  # its writer is gone (or stalled past its lease)
        return rival

    # -- renewal ------------------------------------------------------------------------
    def _renew_loop(self) -> None:
        """Renew every third of the lease, counted from the start of the previous renewal.

        (The first from the ticket the lease was taken with.)

        Counting from its start, not its end, keeps two thirds of the lease as
        the margin for one renewal's request however long the previous one
        took: on a client whose requests queue behind a large batch (fsspec on
        S3, one event loop for everything) a renewal can take seconds, and
        waiting a third of the lease after it ended let the lease run out while
        the next was still in flight.
        """
        period = self.seconds / 3
        clock = self._clock
        # From the ticket of the lease as taken: taking it may itself have been slow.
        started = float((lease_of(self._current) or {}).get("since", clock.time()))
        while not clock.wait(self._stop, max(0.0, started + period - clock.time())):
            current = self._current
            if current is None or not self._held:
                return
            started = clock.time()
            try:
                self.put(without_lease(current))
            except ConcurrentWriteError:
                return  # recorded in _lost by _write; the writer stops at its next check
            except Exception:
                continue

    def _stop_renewing(self) -> None:
        self._stop.set()
        renewer, self._renewer = self._renewer, None
        if renewer is not None and renewer is not threading.current_thread():
            renewer.join()


def _live(lease: Mapping[str, Any] | None, me: str, now: float) -> bool:
    """Whether ``lease`` is someone else's and has not expired."""
    if not lease or lease.get("owner") == me:
        return False
    try:
        return float(lease.get("expires", 0)) > now
    except (TypeError, ValueError):
        return False


def _disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) is the storage saying it is out of space."""
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return False
        if isinstance(seen, OSError) and seen.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if "No space left on device" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _delete_dead_staged_copy(backend: StorageBackend, found: Mapping[str, Any] | None) -> bool:
    """Delete the staged copy of the uncommitted replace ``found`` names; whether there was one."""
    try:
        pending = Pending.from_root(found) if found else None
    except StoreError:
        return False  # a garbage writer record: nothing it names is deleted
    if pending is None or pending.mode != "w" or not pending.staged or pending.state == "moving":
        return False
    if not backend.list_prefix(f"{pending.staged}/", recursive=False):
        return False  # deleted already: the disk is full of something else
    backend.delete_prefix(pending.staged)
    return True


def _full_disk_message(url: str, found: Mapping[str, Any] | None) -> str:
    try:
        pending = Pending.from_root(found) if found else None
    except StoreError:
        pending = None
    if pending is not None and pending.staged and pending.state == "moving":
        what = (
            f"a replace that committed is being moved into place from {pending.staged}/ "
            "and needs the space to finish"
        )
    else:
        what = "nothing a killed writer left here is in the way"
    return (
        f"{url}: the disk is full, so the store's root cannot be rewritten to take the "
        f"write lease ({what}); nothing was written. Free space on that disk, then write "
        f"again (or run 'zarr-vectors verify --repair {url}' to finish what a killed "
        "writer left)."
    )


def _placeholder_root() -> dict[str, Any]:
    """The root a writer creates to hold the lease on a location with no store yet.

    It says a replacing write is in progress, so readers see an unfinished store,
    not an empty one.
    """
    return {
        "zarr_format": 3,
        "node_type": "group",
        "attributes": {WRITER_KEY: {"generation": 0, "pending": {"mode": "w"}}},
    }


def _busy_message(url: str, holder: Mapping[str, Any] | None, waited: float) -> str:
    if holder is None:
        return (
            f"{url}: another writer kept changing the store for {waited:g} s; nothing was "
            "written. Retry later."
        )
    left = max(0.0, float(holder.get("expires", 0)) - time.time())
    return (
        f"{url} is being written by another process (pid {holder.get('pid', '?')} on "
        f"{holder.get('host', '?')}, lease for {left:.0f} s more); waited {waited:g} s and "
        "wrote nothing. Retry later, or pass a longer lock_timeout=."
    )
