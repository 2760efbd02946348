"""The sample gallery from a Hub dataset repo, for real, against the Hub stand-in (tests/hub_standin.py).

A maintainer uploads the listed sample files to a dataset repo (`hf upload <repo> ./samples .
--repo-type dataset`, the README's command, run here as written against the stand-in), pins the commit it printed in `MEDHUB_SAMPLES_REVISION` and names the repo in
`MEDHUB_SAMPLES_REPO` (README, "Publishing models and samples"). `tabs.samples.load_samples` then
fetches exactly the listed files with `snapshot_download`: the repo's listing route, then one resolve
per file at the pinned commit; the second start is served from the Hub cache, also offline.
The files here are made in the test (images of the listed names; a DICOM for the .dcm entries), so
no real data set is needed.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medhub.cards import load_cards
from tests.hub_standin import HubStandIn, commit_for, git_blob_id

REPO = "medhub-test/samples"


def _image_bytes(name: str, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 255, (96, 128, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG" if name.lower().endswith(".png") else "JPEG")
    return buf.getvalue()


def _sample_files(folder: Path) -> list[str]:
    """Every file assets/samples.yaml lists, written under `folder`; returns their paths."""
    from pydicom.data import get_testdata_file

    from tabs.samples import sample_list

    paths = sorted({item["path"] for items in sample_list().values() for item in items})
    for i, rel in enumerate(paths):
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if rel.lower().endswith(".dcm"):
            shutil.copyfile(get_testdata_file("CT_small.dcm"), target)
        else:
            target.write_bytes(_image_bytes(rel, i))
    return paths


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    monkeypatch.setenv("HF_HUB_ETAG_TIMEOUT", "3")
    for name in ("HF_HUB_OFFLINE", "HF_ENDPOINT", "HF_TOKEN", "MEDHUB_SAMPLES_DIR", "MEDHUB_SAMPLES_REPO",
                 "MEDHUB_SAMPLES_REVISION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    return tmp_path


@pytest.fixture
def published(isolated, monkeypatch):
    """The stand-in with the samples uploaded the way a maintainer does it; yields (hub, commit, files)."""
    folder = isolated / "samples"
    files = _sample_files(folder)
    with HubStandIn(isolated / "hub-root") as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
        # The README's command ("Publishing models and samples"), run by the `hf` CLI itself.
        env = {**os.environ, "HF_ENDPOINT": hub.endpoint, "HF_TOKEN": "anything", "HF_HOME": str(isolated / "hf-home"),
               "HF_HUB_DISABLE_TELEMETRY": "1", "NO_COLOR": "1"}
        hf = shutil.which("hf") or pytest.skip("the `hf` command of huggingface_hub is not on PATH")
        run = subprocess.run([hf, "upload", REPO, str(folder), ".", "--repo-type", "dataset"], env=env,
                             capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr[-2000:]
        commit = re.search(r"/datasets/" + REPO + r"/commit/([0-9a-f]{40})", run.stdout)[1]  # the pin it prints
        assert hub.commits[-1]["oid"] == commit
        yield hub, commit, files


def test_stand_in_lists_a_dataset_repo(published):
    from huggingface_hub import HfApi

    hub, commit, files = published
    api = HfApi(endpoint=hub.endpoint)
    assert sorted(api.list_repo_files(REPO, repo_type="dataset", revision=commit)) == files
    assert api.repo_info(REPO, repo_type="dataset", revision="main").sha == commit  # main moved to the commit
    entry = next(f for f in api.list_repo_tree(REPO, repo_type="dataset", revision=commit, recursive=True)
                 if getattr(f, "size", None))
    data = (hub.root / "datasets" / REPO / entry.path).read_bytes()
    assert (entry.size, entry.blob_id) == (len(data), git_blob_id(data))
    assert commit_for("datasets/" + REPO, "main") != commit  # the branch really moved


def test_gallery_from_the_dataset_repo_at_the_pinned_commit_then_offline(published, monkeypatch):
    from huggingface_hub import constants

    from tabs.samples import load_samples, sample_list

    hub, commit, files = published
    monkeypatch.setenv("MEDHUB_SAMPLES_REPO", REPO)
    monkeypatch.setenv("MEDHUB_SAMPLES_REVISION", commit)
    cards = load_cards()
    asked_before = len(hub.revisions)  # the upload's own requests (at main)
    samples, root = load_samples(cards)
    assert root is not None and commit in str(root)  # the snapshot of that very commit
    for card in cards:
        assert len(samples[card.id]) == len(sample_list().get(card.id, [])), card.id
    fetched = {p for m, p in hub.requests if "/resolve/" in p}
    assert {f"/datasets/{REPO}/resolve/{commit}/{f}" for f in files} <= fetched
    assert any(f"/api/datasets/{REPO}/tree/{commit}" in p for _, p in hub.requests)
    assert set(hub.revisions[asked_before:]) == {commit}  # nothing asked for a branch

    # The next start needs no Hub: HF_HUB_OFFLINE serves the same snapshot from the cache.
    before = hub.request_count
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    again, root_again = load_samples(cards)
    assert root_again == root and hub.request_count == before
    assert {m: len(v) for m, v in again.items()} == {m: len(v) for m, v in samples.items()}


def test_gallery_from_a_branch_resolves_it_first(published, monkeypatch):
    from tabs.samples import load_samples

    hub, commit, _ = published
    monkeypatch.setenv("MEDHUB_SAMPLES_REPO", REPO)  # no revision: main
    samples, root = load_samples(load_cards())
    assert root is not None and commit in str(root)
    assert any(p == f"/api/datasets/{REPO}/revision/main" for _, p in hub.requests)
    assert any(samples.values())


def test_unknown_repo_or_revision_hides_the_gallery(published, monkeypatch):
    from tabs.samples import load_samples

    monkeypatch.setenv("MEDHUB_SAMPLES_REPO", "medhub-test/no-such-samples")
    samples, root = load_samples(load_cards())
    assert root is None and not any(samples.values())


def test_a_local_sample_linking_outside_its_folder_is_left_out(isolated, monkeypatch, tmp_path):
    from tabs.samples import load_samples, sample_list

    folder = tmp_path / "local"
    _sample_files(folder)
    first = next(item["path"] for items in sample_list().values() for item in items
                 if not item["path"].endswith(".dcm"))
    outside = tmp_path / "elsewhere.jpg"
    (folder / first).rename(outside)
    (folder / first).symlink_to(outside)
    monkeypatch.setenv("MEDHUB_SAMPLES_DIR", str(folder))
    samples, root = load_samples(load_cards())
    shown = {Path(s.path).name.split("-", 1)[1] for items in samples.values() for s in items}
    assert Path(first).name not in shown
    assert sum(len(v) for v in samples.values()) == sum(len(v) for v in sample_list().values()) - sum(
        1 for items in sample_list().values() for item in items if item["path"] == first)
