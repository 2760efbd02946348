"""Weight resolution against a local Hub stand-in: download, cache, offline, pinned revision, sha256.

Everything runs in tmp dirs (weights root, Hub cache, digest cache); `weights/` is never touched.
huggingface_hub reads HF_ENDPOINT / HF_HUB_OFFLINE / HF_HUB_CACHE at import, but `resolve_weights`
reads them again at call time, so setting them with monkeypatch is enough here.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from medhub.cards import parse_card
from medhub.weights import (
    WeightsError,
    WeightsUnavailable,
    cached_sha256,
    parse_order,
    resolve_weights,
    sha256_file,
)
from tests.hub_standin import HubStandIn, commit_for

REPO_ID = "medhub-test/tiny"
PINNED = "0123456789abcdef0123456789abcdef01234567"
WEIGHTS = os.urandom(50_000)
CONFIG = b'{"architecture": "test_efficientnet"}\n'

CARD = """---
license: cc-by-nc-4.0
medhub:
  schema_version: 1
  id: tiny
  title: {{en: Tiny, ko: Tiny}}
  framework: torch
  architecture: test_efficientnet
  hub:
    repo_id: {repo}
    revision: {revision}
    files:
      - {{name: model.safetensors, sha256: "{w}"}}
      - {{name: config.json, sha256: "{c}"}}
  input: {{modality: dermoscopy, size: [32, 32], channels: 3, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5]}}
  labels:
    - {{id: a, en: A, ko: A}}
    - {{id: b, en: B, ko: B}}
    - {{id: c, en: C, ko: C}}
  gradcam_layer: conv_head
  metrics: {{dataset: synthetic, split: none, n: 0}}
  license: cc-by-nc-4.0
---
# Intended use
# Out-of-scope use
# Training data
# Evaluation
# Limitations
# Disclaimer
"""


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_card(revision: str = "main", weights: bytes = WEIGHTS, config: bytes = CONFIG):
    return parse_card(CARD.format(repo=REPO_ID, revision=revision, w=sha(weights), c=sha(config)))


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Every test gets its own weights root, Hub cache and digest cache, online by default."""
    from huggingface_hub import constants

    monkeypatch.setenv("MEDHUB_WEIGHTS_DIR", str(tmp_path / "weights"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setenv("MEDHUB_HASH_CACHE", str(tmp_path / "sha256-cache.json"))
    monkeypatch.setenv("HF_HUB_ETAG_TIMEOUT", "3")
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_ENDPOINT", "MEDHUB_WEIGHTS_ORDER"):
        monkeypatch.delenv(name, raising=False)
    # In case the runner exported HF_HUB_OFFLINE=1 before huggingface_hub was imported.
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    return tmp_path


@pytest.fixture
def hub(tmp_path, monkeypatch):
    with HubStandIn(tmp_path / "hub-root") as server:
        server.add_file(REPO_ID, "model.safetensors", WEIGHTS)
        server.add_file(REPO_ID, "config.json", CONFIG)
        monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
        yield server


def write_local(tmp_path: Path, weights: bytes = WEIGHTS, config: bytes = CONFIG) -> Path:
    folder = tmp_path / "weights" / "tiny"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.safetensors").write_bytes(weights)
    (folder / "config.json").write_bytes(config)
    return folder


# ------------------------------------------------------------------ local


def test_local_first_uses_weights_dir_without_network(tmp_path, hub):
    folder = write_local(tmp_path)
    resolved = resolve_weights(make_card())
    assert resolved.source == "local"
    assert resolved.dir == folder
    assert resolved.revision is None
    assert resolved.files["model.safetensors"].read_bytes() == WEIGHTS
    assert hub.request_count == 0


def test_order_from_env_skips_local(tmp_path, hub, monkeypatch):
    write_local(tmp_path)
    monkeypatch.setenv("MEDHUB_WEIGHTS_ORDER", "hub")
    assert resolve_weights(make_card()).source == "hub"
    assert hub.request_count > 0


def test_order_argument_and_validation():
    assert parse_order("hub, local") == ("hub", "local")
    assert parse_order(["local"]) == ("local",)
    assert parse_order(None) == ("local", "hub")
    with pytest.raises(WeightsError, match="not valid"):
        parse_order("local,s3")
    with pytest.raises(WeightsError):
        parse_order("")


def test_local_hash_mismatch_is_refused_not_skipped(tmp_path, hub):
    write_local(tmp_path, weights=WEIGHTS[:-1] + b"\x00")
    # The Hub has the right file, but a wrong local file must not be silently passed over.
    with pytest.raises(WeightsError, match="sha256") as info:
        resolve_weights(make_card())
    assert not isinstance(info.value, WeightsUnavailable)
    assert "model.safetensors" in str(info.value)


def test_lfs_pointer_falls_back_to_hub(tmp_path, hub):
    folder = write_local(tmp_path)
    (folder / "model.safetensors").write_bytes(
        b"version https://git-lfs.github.com/spec/v1\noid sha256:" + sha(WEIGHTS).encode() + b"\nsize 50000\n"
    )
    resolved = resolve_weights(make_card())
    assert resolved.source == "hub"
    assert resolved.files["model.safetensors"].read_bytes() == WEIGHTS


# ------------------------------------------------------------------ hub


def test_hub_download_then_cache(hub, tmp_path):
    resolved = resolve_weights(make_card())
    assert resolved.source == "hub"
    assert resolved.revision == commit_for(REPO_ID, "main")
    assert resolved.files["model.safetensors"].read_bytes() == WEIGHTS
    assert resolved.files["config.json"].read_bytes() == CONFIG
    cache = tmp_path / "hf-cache"
    assert cache in resolved.dir.parents
    gets = [r for r in hub.requests if r[0] == "GET"]
    assert len(gets) == 2
    # Again: served from the cache, only metadata (HEAD) requests for a branch revision.
    again = resolve_weights(make_card())
    assert again.files == resolved.files
    assert len([r for r in hub.requests if r[0] == "GET"]) == 2


def test_pinned_revision_is_requested_and_then_needs_no_network(hub):
    card = make_card(revision=PINNED)
    resolved = resolve_weights(card)
    assert resolved.revision == PINNED
    assert set(hub.revisions) == {PINNED}
    count = hub.request_count
    resolve_weights(card)  # a commit id is immutable: the cache answers without asking
    assert hub.request_count == count


def test_offline_from_cache_with_server_stopped(tmp_path, monkeypatch):
    for revision in ("main", PINNED):
        with HubStandIn(tmp_path / "hub-root") as server:
            server.add_file(REPO_ID, "model.safetensors", WEIGHTS)
            server.add_file(REPO_ID, "config.json", CONFIG)
            monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
            online = resolve_weights(make_card(revision=revision))
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
        offline = resolve_weights(make_card(revision=revision))
        monkeypatch.delenv("HF_HUB_OFFLINE")
        assert offline.source == "hub"
        assert offline.files == online.files
        assert offline.revision == online.revision


def test_hub_hash_mismatch_refused(hub):
    hub.add_file(REPO_ID, "config.json", b'{"tampered": true}\n')
    with pytest.raises(WeightsError, match="config.json.*sha256"):
        resolve_weights(make_card())


def test_missing_on_hub_is_unavailable(hub):
    (hub.root / REPO_ID / "config.json").unlink()
    with pytest.raises(WeightsUnavailable, match="no config.json"):
        resolve_weights(make_card())


def test_unknown_repo_is_unavailable(hub):
    card = parse_card(CARD.format(repo="medhub-test/absent", revision="main", w=sha(WEIGHTS), c=sha(CONFIG)))
    with pytest.raises(WeightsUnavailable, match="RepositoryNotFoundError"):
        resolve_weights(card)


@pytest.mark.timeout(60)  # hang guard: no minutes of retries
def test_neither_source_offline_is_fast_and_says_how_to_fix(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(WeightsUnavailable) as info:
        resolve_weights(make_card())
    message = str(info.value)
    assert "model.safetensors is missing" in message  # what local lacked
    assert "HF_HUB_OFFLINE=1" in message  # why the Hub was not asked
    assert "git lfs pull" in message and "python -m medhub publish tiny" in message


@pytest.mark.timeout(60)  # hang guard: no minutes of retries
def test_neither_source_server_down_is_fast(tmp_path, monkeypatch):
    with HubStandIn(tmp_path / "hub-root") as server:
        endpoint = server.endpoint
    monkeypatch.setenv("HF_ENDPOINT", endpoint)  # nothing listens there any more
    with pytest.raises(WeightsUnavailable, match="unreachable"):
        resolve_weights(make_card())


# ------------------------------------------------------------------ digest cache


def test_digest_cache_keyed_by_path_size_mtime(tmp_path):
    path = tmp_path / "blob.bin"
    path.write_bytes(b"a" * 1000)
    first = cached_sha256(path)
    assert first == sha256_file(path)
    stat = path.stat()
    # Same size and mtime: the cached digest is reused (proof that nothing was re-hashed) ...
    path.write_bytes(b"b" * 1000)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert cached_sha256(path) == first
    # ... a new mtime invalidates it.
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert cached_sha256(path) == sha(b"b" * 1000)
    # The cache is on disk, for the next start-up.
    assert sha(b"b" * 1000) in (tmp_path / "sha256-cache.json").read_text()
