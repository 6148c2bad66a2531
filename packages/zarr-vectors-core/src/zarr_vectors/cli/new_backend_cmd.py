"""``zarr-vectors new-backend NAME``: a plugin distribution to start a backend from.

It writes a complete, installable distribution whose backend passes every check
of the conformance kit from the first minute, and whose own test suite runs the
kit: an author replaces the bodies of the storage calls (marked ``STORAGE``)
with calls to their storage and keeps running ``pytest`` until it passes again.
The backend it writes keeps objects in the memory of the process, behind a
lock, so that the skeleton shows every rule the kit holds a backend to:
missing keys, listings, versions, conditional writes, the close hook.
"""

from __future__ import annotations

import re
from pathlib import Path

import click

__all__ = ["new_backend", "write_skeleton"]

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*$")

_PYPROJECT = """\
[build-system]
requires = ["hatchling>=1.25"]
build-backend = "hatchling.build"

[project]
name = "{dist}"
version = "0.1.0"
description = "A zarr-vectors storage backend for {scheme}:// URLs."
readme = "README.md"
requires-python = ">=3.11"
dependencies = ["zarr-vectors-core>={core}"]

[project.optional-dependencies]
# hypothesis and pytest for the conformance kit (tests/test_conformance.py)
testing = ["zarr-vectors-core[testing]>={core}"]

# The only registration there is: zarr-vectors finds the backend through this entry point.
[project.entry-points."zarr_vectors.backends"]
{name} = "{package}.info:INFO"

[tool.hatch.build.targets.wheel]
packages = ["src/{package}"]

[tool.pytest.ini_options]
testpaths = ["tests"]
"""

_README = """\
# {dist}

A zarr-vectors storage backend named `{name}`, serving `{scheme}://` URLs.

Made by `zarr-vectors new-backend {name}`. Its backend keeps objects in the memory of
the Python process; replace the parts marked `STORAGE` in
`src/{package}/backend.py` with calls to your storage, and keep the conformance
kit passing:

```console
$ pip install -e ".[testing]"      # or: uv pip install -e ".[testing]"
$ zarr-vectors backends            # {name} is listed with status ok
$ pytest                           # every check of the kit, as tests/test_conformance.py
$ pytest --zv-max-examples 200     # more effort; --zv-seed N replays a failure
```

The kit picks its effort from the URL: `{scheme}` is declared local in
`src/{package}/info.py` (`local_schemes`), which is right while objects live on this
machine (files, an embedded database); remove it there once they cross a network,
and the kit gives the backend fewer examples and more time per call. For
client/server storage (a database server, say), leave `local_schemes` empty: the
kit then treats URLs naming this machine (`localhost`, `127.0.0.1`, `::1`) as local
and every other host as remote. `tests/test_conformance.py` says `in_process = True`
while objects live in the test process's memory (the two-processes check is then
skipped); remove it with the dict. `docs/plugin-authors.md` in the zarr-vectors
repository answers the rest.
"""

_INIT = '''\
"""A zarr-vectors storage backend for {scheme}:// URLs."""

__version__ = "0.1.0"
'''

_INFO = '''\
"""What zarr-vectors learns about this backend without importing it (the entry point)."""

from zarr_vectors.storage.info import BackendInfo

INFO = BackendInfo(
    name="{name}",
    schemes=("{scheme}",),
    # Objects live on this machine: the conformance kit uses its local profile. Remove
    # this line when your storage is across a network. Client/server storage whose
    # server may run here or elsewhere: leave it out too; the kit then picks the local
    # profile for URLs naming this machine (localhost, 127.0.0.1, ::1) only.
    local_schemes=("{scheme}",),
    factory="{package}.backend:{cls}",
    install_hint="pip install {dist}",
    description="A zarr-vectors backend for {scheme}:// URLs.",
    options={{
        "max_concurrency": "most storage calls at once (int)",
        "verify_prefixes": "confirm each listed container holds an object (bool)",
    }},
)
'''

_BACKEND = '''\
"""The {name} backend: objects of ``{scheme}://NAME`` stores.

Everything marked ``STORAGE`` talks to the storage; here the storage is a dict in
the memory of this process, shared by every backend opened on the same URL (so
contents survive closing and opening again, as the kit checks). Replace those
parts with calls to your storage; the rest is what every backend must do.

The base class validates every key before these methods see it, refuses writes
on a read-only backend, supplies the async twins (on worker threads), batches
(``get_many``/``put_many``, at most ``max_concurrency`` calls at once), settles
ranges past the end and keeps secrets out of messages. It calls the methods
below from up to ``max_concurrency`` threads at once.
"""

from __future__ import annotations

import itertools
import threading

from zarr_vectors.storage import Backend, children_of, missing_key
from zarr_vectors.storage.base import ObjectInfo
from zarr_vectors.exceptions import PreconditionFailedError

__all__ = ["{cls}"]

# STORAGE: every store of this process, by URL: key -> (value, version).
_STORES: dict[str, dict[str, tuple[bytes, str]]] = {{}}
_LOCK = threading.Lock()
_VERSIONS = itertools.count(1)


class {cls}(Backend):
    """Objects in process memory under ``{scheme}://NAME``."""

    backend_name = "{name}"
    #: put_if is offered (create-only and if-match writes). Set False (and delete
    #: _put_if) if your storage cannot compare and write in one step.
    conditional_writes = True
    #: Set True if a key cannot be both an object and the parent of another (a file
    #: system); writes of such a key must then raise KeyConflictError.
    hierarchical_keys = False

    def __init__(
        self,
        url: str,
        *,
        max_concurrency: int | None = None,
        verify_prefixes: bool = False,
    ) -> None:
        # Constructor options arrive as given from Python (backend_kwargs), and
        # converted from the command line (--option max_concurrency=4 is the int 4).
        # verify_prefixes: a storage that keeps listing a "folder" after its last object
        # is deleted (some S3 servers do) passes True; the base class then confirms each
        # listed container before a listing returns it.
        super().__init__(url, max_concurrency=max_concurrency, verify_prefixes=verify_prefixes)
        with _LOCK:
            self._objects = _STORES.setdefault(url, {{}})  # STORAGE: connect here

    # -- the six primitives every backend implements --------------------------------------
    def _get(self, key: str) -> bytes:
        with _LOCK:
            found = self._objects.get(key)  # STORAGE
        if found is None:
            raise missing_key(key, self.url)  # a KeyError naming the key and the store
        return found[0]

    def _get_range(self, key: str, start: int, length: int | None) -> bytes:
        # Ask the storage for the range. If it refuses a range starting past the end
        # (HTTP 416), raise zarr_vectors.exceptions.RangeNotSatisfiableError: the base
        # class then answers b"" or KeyError from _head. A range of length 0 never gets
        # here: the base class answers it (b"", or KeyError for a missing key). Return
        # bytes itself (bytes(...) around a bytearray or memoryview).
        data = self._get(key)  # STORAGE: a ranged read
        return data[start:] if length is None else data[start : start + length]

    def _put(self, key: str, data: bytes) -> None:
        # The new value must replace the old one at once: a reader sees one or the other.
        with _LOCK:
            self._objects[key] = (data, self._new_version())  # STORAGE

    def _exists(self, key: str) -> bool:
        with _LOCK:
            return key in self._objects  # STORAGE

    def _delete(self, key: str) -> None:
        with _LOCK:
            self._objects.pop(key, None)  # STORAGE; a missing key is not an error

    def _list(self, prefix: str, recursive: bool) -> list[str]:
        # prefix is "" or ends in "/". children_of turns the keys under it into what a
        # listing returns: sorted, containers ending in "/" unless recursive.
        with _LOCK:
            keys = [k for k in self._objects if k.startswith(prefix)]  # STORAGE
        return children_of(prefix, keys, recursive)

    # -- optional overrides: one request where the storage has one ------------------------
    def _head(self, key: str) -> ObjectInfo:
        # The default reads the whole object; a real HEAD is cheaper. The version must
        # change whenever the object does (an ETag, a generation number).
        with _LOCK:
            found = self._objects.get(key)  # STORAGE
        if found is None:
            raise missing_key(key, self.url)
        return ObjectInfo(key, len(found[0]), found[1])

    def _delete_many(self, keys: list[str]) -> None:
        # The default deletes key by key; batch it if the storage can (and page through a
        # storage that takes 100 or 1,000 keys per request). Missing keys are fine.
        # check_fence() before each delete (or before each request of a page): a writer
        # whose lease ran out while it was stalled must stop at the next object. Override
        # _put_many and _move_many the same way.
        for key in keys:
            self.check_fence()
            with _LOCK:
                self._objects.pop(key, None)  # STORAGE

    def _put_if(self, key: str, data: bytes, expect: str | None) -> str:
        # Store only if the current version is `expect` (None: only if nothing is stored),
        # atomically; return the new version, or raise PreconditionFailedError.
        with _LOCK:
            found = self._objects.get(key)  # STORAGE: a conditional write
            current = None if found is None else found[1]
            if current != expect:
                raise PreconditionFailedError(
                    f"{{key!r}} in {{self.url}} is at version {{current}}, not {{expect}}; "
                    "read it again and retry."
                )
            version = self._new_version()
            self._objects[key] = (data, version)
            return version

    def _close(self) -> None:
        # Release connections and files here; close(), aclose() and both `with` forms
        # call this exactly once. Nothing to release for memory.
        pass

    @staticmethod
    def _new_version() -> str:
        return f"v{{next(_VERSIONS)}}"  # STORAGE: the storage's own version token
'''

_TEST = '''\
"""The conformance kit as this distribution's own tests: every check is one test.

Effort follows the URL scheme ({scheme} is declared local in info.py); raise it with
pytest --zv-max-examples N --zv-steps N, replay a failure with --zv-seed N.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from zarr_vectors.testing import BackendConformance


class Test{cls}Conformance(BackendConformance):
    backend_name = "{name}"
    # Objects live in this process's memory: the two-processes check is skipped. Remove
    # this line once they live in storage another process can open.
    in_process = True

    def make_url(self, tmp_path: Path) -> str:
        # A new, empty scratch location per test: the kit deletes everything there.
        return f"{scheme}://kit-{{uuid.uuid4().hex}}"
'''


def _class_name(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_")) + "Backend"


def write_skeleton(name: str, directory: Path, scheme: str | None = None) -> Path:
    """Write the distribution ``zarr-vectors-NAME`` in ``directory``; return its folder.

    The folder lands whole or not at all (:func:`~zarr_vectors.io.landing.landing`):
    the files are written into a temporary folder beside it, renamed into place
    when the last is written, so a failure half way leaves no half a distribution
    that looks like one. A folder already there is refused, before anything is
    written, unless it is empty.
    """
    from zarr_vectors._version import __version__
    from zarr_vectors.exceptions import StoreExistsError, ValidationError
    from zarr_vectors.io.landing import landing

    if not _NAME.match(name):
        raise ValidationError(
            f"{name!r} is not a backend name: use lower-case letters, digits and '_', "
            "starting with a letter (for example 'lmdb' or 'my_store')."
        )
    scheme = scheme or name.replace("_", "-")
    if not _SCHEME.match(scheme):
        raise ValidationError(
            f"{scheme!r} is not a URL scheme: use lower-case letters, digits, '+', '-' and "
            "'.', starting with a letter."
        )
    dist = f"zarr-vectors-{name.replace('_', '-')}"
    package = f"zarr_vectors_{name}"
    root = directory / dist
    taken = StoreExistsError(
        f"{root} already exists; choose another directory (--dir) or remove it first."
    )
    if root.is_symlink() or (root.exists() and (not root.is_dir() or any(root.iterdir()))):
        raise taken
    fields = {
        "name": name,
        "scheme": scheme,
        "dist": dist,
        "package": package,
        "cls": _class_name(name),
        "core": ".".join(__version__.split(".")[:2]) + ".0",
    }
    files = {
        "pyproject.toml": _PYPROJECT,
        "README.md": _README,
        f"src/{package}/__init__.py": _INIT,
        f"src/{package}/py.typed": "",
        f"src/{package}/info.py": _INFO,
        f"src/{package}/backend.py": _BACKEND,
        "tests/test_conformance.py": _TEST,
    }
    directory.mkdir(parents=True, exist_ok=True)
    try:
        with landing(root) as part:
            for relative, template in files.items():
                path = part / relative
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(template.format(**fields), encoding="utf-8")
    except OSError as exc:
        if root.is_dir() and any(root.iterdir()):  # filled by another since the check
            raise taken from exc
        raise
    return root


@click.command("new-backend")
@click.argument("name")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Where to create the zarr-vectors-NAME folder.",
)
@click.option("--scheme", default=None, help="URL scheme the backend serves (default: NAME).")
def new_backend(name: str, directory: Path, scheme: str | None) -> None:
    """Create zarr-vectors-NAME: a backend plugin distribution that passes the kit.

    The backend keeps objects in process memory; replace the parts marked STORAGE
    in src/zarr_vectors_NAME/backend.py with calls to your storage, and run its
    tests (the conformance kit) until they pass again.
    """
    from zarr_vectors.cli._errors import InputError
    from zarr_vectors.exceptions import ValidationError, ZarrVectorsError

    try:
        root = write_skeleton(name, directory, scheme)
    except ValidationError as exc:  # a bad NAME or --scheme: exit 2, as any bad option
        raise InputError(str(exc)) from exc
    except ZarrVectorsError as exc:
        raise click.ClickException(str(exc)) from exc
    except OSError as exc:  # a folder that cannot be made or written: nothing was left
        raise click.ClickException(f"cannot write {directory}: {exc}") from exc
    click.echo(f"Created {root}")
    click.echo("Next:")
    click.echo(f"  cd {root}")
    click.echo('  pip install -e ".[testing]"    # or: uv pip install -e ".[testing]"')
    click.echo("  pytest                         # the conformance kit, every check")
