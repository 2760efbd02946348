"""Where a model's weights come from: the local `weights/<id>/` folder or the Hugging Face Hub.

`resolve_weights(card)` returns the folder and files of one model, every file listed on the card
checked against the card's sha256. The local folder mirrors the Hub repo file for file, so either
source yields the same files. Sources are tried in order (`MEDHUB_WEIGHTS_ORDER`, default
`local,hub`); a source that lacks a file is skipped with a note, but a file whose hash is wrong is
refused outright: the hub never falls back silently from a corrupt or stale file.

Hub downloads go through `huggingface_hub.hf_hub_download` with the card's pinned revision, so they
honour the Hub cache, `HF_HUB_OFFLINE`, `HF_ENDPOINT` and `HF_HUB_CACHE`. These are read here at
call time as well, because huggingface_hub reads them once at import.

Verified digests are cached per (path, size, mtime) in a small JSON file, so a restart does not
re-hash hundreds of megabytes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from medhub.cards import REPO_ROOT, ModelCard

log = logging.getLogger(__name__)

SOURCES = ("local", "hub")
DEFAULT_ORDER = ("local", "hub")
_LFS_POINTER_PREFIX = b"version https://git-lfs.github.com/spec/v1"
_CHUNK = 1 << 20


class WeightsError(RuntimeError):
    """Weights exist but cannot be used (wrong sha256, wrong order setting, unfit file)."""


class WeightsUnavailable(WeightsError):
    """No configured source has the weights."""


@dataclass(frozen=True)
class ResolvedWeights:
    """The verified files of one model and where they came from."""

    dir: Path
    files: dict[str, Path]
    source: str  # "local" | "hub"
    revision: str | None  # the Hub commit the files belong to; None for local files

    def path(self, name: str) -> Path:
        try:
            return self.files[name]
        except KeyError:
            raise WeightsError(f"'{name}' is not among the resolved files {sorted(self.files)}") from None


def weights_root() -> Path:
    """Root of the local mirror: `weights/` in the repo, or `$MEDHUB_WEIGHTS_DIR`."""
    return Path(os.environ.get("MEDHUB_WEIGHTS_DIR") or REPO_ROOT / "weights")


def _env_true(name: str) -> bool:
    return os.environ.get(name, "").strip().upper() in {"1", "ON", "YES", "TRUE"}


def parse_order(order: str | Iterable[str] | None = None) -> tuple[str, ...]:
    """The sources to try, from the argument, else `MEDHUB_WEIGHTS_ORDER`, else `local,hub`."""
    if order is None:
        order = os.environ.get("MEDHUB_WEIGHTS_ORDER") or ",".join(DEFAULT_ORDER)
    items = order.split(",") if isinstance(order, str) else list(order)
    parsed = tuple(item.strip().lower() for item in items if item.strip())
    bad = [item for item in parsed if item not in SOURCES]
    if bad or not parsed:
        raise WeightsError(
            f"weights order {order!r} is not valid: use a comma-separated list of {', '.join(SOURCES)}"
            " (MEDHUB_WEIGHTS_ORDER or the order argument)"
        )
    return parsed


# ---------------------------------------------------------------- hashing with a digest cache


def _hash_cache_path() -> Path:
    explicit = os.environ.get("MEDHUB_HASH_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "medhub" / "sha256-cache.json"


_cache_lock = threading.Lock()
_memory_cache: dict[str, str] = {}
_disk_loaded_from: Path | None = None


def _cache_key(path: Path) -> str:
    st = path.stat()  # follows the Hub cache's symlinks to the blob
    return f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"


def _load_disk_cache() -> None:
    global _disk_loaded_from
    where = _hash_cache_path()
    if _disk_loaded_from == where:
        return
    _disk_loaded_from = where
    try:
        data = json.loads(where.read_text(encoding="utf-8"))
        if isinstance(data, dict):
            _memory_cache.update({k: v for k, v in data.items() if isinstance(v, str)})
    except (OSError, ValueError):
        pass  # no cache yet, or unreadable: hashes are simply recomputed


def _save_disk_cache() -> None:
    where = _hash_cache_path()
    try:
        where.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename, so a concurrent reader never sees half a file.
        fd, tmp = tempfile.mkstemp(dir=where.parent, prefix=".sha256-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(_memory_cache, fh)
        os.replace(tmp, where)
    except OSError as exc:  # read-only home (e.g. some Spaces): caching is an optimisation only
        log.debug("could not write the sha256 cache %s: %s", where, exc)


def sha256_file(path: Path) -> str:
    """Stream-hash a file (no caching)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def cached_sha256(path: Path) -> str:
    """sha256 of a file, reusing an earlier digest while its path, size and mtime are unchanged."""
    path = Path(path)
    key = _cache_key(path)
    with _cache_lock:
        _load_disk_cache()
        hit = _memory_cache.get(key)
    if hit:
        return hit
    digest = sha256_file(path)
    with _cache_lock:
        _memory_cache[key] = digest
        _save_disk_cache()
    return digest


def _is_lfs_pointer(path: Path) -> bool:
    try:
        if path.stat().st_size > 1024:
            return False
        with open(path, "rb") as fh:
            return fh.read(len(_LFS_POINTER_PREFIX)) == _LFS_POINTER_PREFIX
    except OSError:
        return False


def _check_hash(card: ModelCard, name: str, path: Path, where: str) -> None:
    expected = next(f.sha256 for f in card.files if f.name == name)
    actual = cached_sha256(path)
    if actual != expected:
        raise WeightsError(
            f"{card.id}: {name} from {where} ({path}) has sha256 {actual}, but the card "
            f"{card.path.name} expects {expected}. Refusing to load it. Either the file is stale or "
            "corrupt (re-download it: delete it and run again, or `git lfs pull` for weights/), or the "
            "card is out of date (re-write the card from the training run)."
        )


# ---------------------------------------------------------------- the two sources


class _Missing(Exception):
    """A source does not have the files; carries the note shown to the user."""


def _from_local(card: ModelCard) -> ResolvedWeights:
    folder = weights_root() / card.id
    files: dict[str, Path] = {}
    for wf in card.files:
        path = folder / wf.name
        if not path.is_file():
            raise _Missing(f"local {folder}: {wf.name} is missing")
        if _is_lfs_pointer(path):
            raise _Missing(f"local {folder}: {wf.name} is a Git LFS pointer (run `git lfs pull`)")
        files[wf.name] = path
    for name, path in files.items():
        _check_hash(card, name, path, f"local {folder}")
    return ResolvedWeights(dir=folder, files=files, source="local", revision=None)


def _hub_endpoint() -> str | None:
    return (os.environ.get("HF_ENDPOINT") or "").rstrip("/") or None


def _hub_offline() -> bool:
    from huggingface_hub import constants

    return constants.HF_HUB_OFFLINE or _env_true("HF_HUB_OFFLINE") or _env_true("TRANSFORMERS_OFFLINE")


def _snapshot_commit(path: Path) -> str | None:
    """The commit folder of a file inside the Hub cache (`.../snapshots/<commit>/<file>`)."""
    parts = path.parts
    if "snapshots" in parts:
        i = len(parts) - 1 - parts[::-1].index("snapshots")
        if i + 1 < len(parts):
            return parts[i + 1]
    return None


def _probe_unless_cached(card: ModelCard, kwargs: dict, where: str) -> None:
    """Fail fast when the Hub is unreachable and a file is not cached.

    hf_hub_download retries an unreachable Hub with back-off (about 23 s per file) when the file is
    not in its cache; one HEAD request without retries tells the same thing in milliseconds.
    """
    import httpx2
    from huggingface_hub import get_hf_file_metadata, hf_hub_url, try_to_load_from_cache
    from huggingface_hub.errors import HfHubHTTPError

    missing = [
        wf.name
        for wf in card.files
        if not isinstance(
            try_to_load_from_cache(
                card.repo_id, wf.name, cache_dir=kwargs.get("cache_dir"), revision=card.revision
            ),
            str,
        )
    ]
    if not missing:
        return
    url = hf_hub_url(card.repo_id, missing[0], revision=card.revision, endpoint=kwargs.get("endpoint"))
    try:
        get_hf_file_metadata(url, timeout=kwargs.get("etag_timeout", 10), endpoint=kwargs.get("endpoint"))
    except httpx2.TransportError as exc:
        raise _Missing(
            f"{where}: unreachable ({type(exc).__name__}: {exc}) and {missing[0]} is not in the Hub cache"
        ) from exc
    except (HfHubHTTPError, OSError, ValueError):
        pass  # the Hub answered (404, 401, ...): hf_hub_download below reports it precisely


def _from_hub(card: ModelCard) -> ResolvedWeights:
    import httpx2  # huggingface_hub's HTTP client; its transport errors are not OSErrors
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (
        EntryNotFoundError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
    )

    offline = _hub_offline()
    endpoint = _hub_endpoint()
    kwargs: dict = {"revision": card.revision, "local_files_only": offline}
    if endpoint:
        kwargs["endpoint"] = endpoint
    if os.environ.get("HF_HUB_CACHE"):
        kwargs["cache_dir"] = os.environ["HF_HUB_CACHE"]
    try:
        kwargs["etag_timeout"] = float(os.environ.get("HF_HUB_ETAG_TIMEOUT") or 10)
    except ValueError:
        raise WeightsError(
            f"HF_HUB_ETAG_TIMEOUT must be a number of seconds, not {os.environ['HF_HUB_ETAG_TIMEOUT']!r}"
        ) from None
    where = f"hub {card.repo_id}@{card.revision}" + (f" via {endpoint}" if endpoint else "")

    if not offline:
        _probe_unless_cached(card, kwargs, where)
    files: dict[str, Path] = {}
    for wf in card.files:
        try:
            local = Path(hf_hub_download(card.repo_id, wf.name, **kwargs))
        except LocalEntryNotFoundError as exc:
            state = "offline (HF_HUB_OFFLINE=1) and" if offline else "unreachable and"
            raise _Missing(f"{where}: {state} {wf.name} is not in the Hub cache") from exc
        except EntryNotFoundError as exc:
            raise _Missing(f"{where}: the repo has no {wf.name} at this revision") from exc
        except (HfHubHTTPError, OfflineModeIsEnabled, httpx2.HTTPError, OSError, ValueError) as exc:
            # httpx2/OSError: a dropped connection, missing metadata headers; ValueError: a bad repo id.
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise _Missing(f"{where}: {type(exc).__name__}: {first_line}") from exc
        files[wf.name] = local
    for name, path in files.items():
        _check_hash(card, name, path, where)
    first = next(iter(files.values()))
    commit = _snapshot_commit(first)
    return ResolvedWeights(dir=first.parent, files=files, source="hub", revision=commit or card.revision)


_RESOLVERS = {"local": _from_local, "hub": _from_hub}


def resolve_weights(card: ModelCard, order: str | Iterable[str] | None = None) -> ResolvedWeights:
    """Find every file the card lists, verified against its sha256, from the first source that has them.

    Raises `WeightsUnavailable` when no source has the files, `WeightsError` when a file is found
    but its hash is wrong (never skipped over) or the order is invalid.
    """
    tried: list[str] = []
    for source in parse_order(order):
        try:
            resolved = _RESOLVERS[source](card)
        except _Missing as missing:
            tried.append(str(missing))
            continue
        if tried:
            log.info("%s: weights from %s after: %s", card.id, source, "; ".join(tried))
        return resolved
    raise WeightsUnavailable(
        f"no weights for '{card.id}'. Tried:\n  - "
        + "\n  - ".join(tried)
        + f"\nTo fix: put the files in {weights_root() / card.id}/ (in a clone: `git lfs pull`), or let the"
        " hub download them (HF_HUB_OFFLINE=0 with network access, HF_ENDPOINT if you use a mirror), or"
        f" publish them first with `python -m medhub publish {card.id}`. The order of sources is set by"
        " MEDHUB_WEIGHTS_ORDER (now: " + ",".join(parse_order(order)) + ")."
    )
