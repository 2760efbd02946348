"""`publish` for real against the Hub stand-in: dry run, upload, round trip through resolve_weights, errors.

The stand-in implements the three endpoints `HfApi.upload_folder` uses when every file is "regular"
(create repo, preupload, NDJSON commit), so the upload path is huggingface_hub's own code.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from medhub import cards as cards_module
from medhub.cli import main as cli_main
from medhub.studies.publish import PublishError, publish
from medhub.weights import resolve_weights
from tests.hub_standin import HubStandIn
from tests.test_weights import CARD, CONFIG, REPO_ID, WEIGHTS, make_card, sha


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setenv("MEDHUB_WEIGHTS_DIR", str(tmp_path / "weights"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setenv("MEDHUB_HASH_CACHE", str(tmp_path / "sha256-cache.json"))
    for name in ("HF_HUB_OFFLINE", "HF_ENDPOINT", "HF_TOKEN", "MEDHUB_WEIGHTS_ORDER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    # A card directory of our own: the tiny card of test_weights.
    cards_dir = tmp_path / "cards"
    cards_dir.mkdir()
    card_text = CARD.format(repo=REPO_ID, revision="main", w=sha(WEIGHTS), c=sha(CONFIG))
    (cards_dir / "tiny.md").write_text(card_text, encoding="utf-8")
    monkeypatch.setattr(cards_module, "CARDS_DIR", cards_dir)
    cards_module._load_cards.cache_clear()
    # The local mirror of the repo, as training leaves it (no README yet).
    folder = tmp_path / "weights" / "tiny"
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(WEIGHTS)
    (folder / "config.json").write_bytes(CONFIG)
    (folder / ".cache").mkdir()  # huggingface_hub metadata: never uploaded
    (folder / ".cache" / "junk").write_text("x")
    yield folder
    cards_module._load_cards.cache_clear()


@pytest.fixture
def hub(tmp_path, monkeypatch):
    with HubStandIn(tmp_path / "hub-root") as server:
        monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
        yield server


def test_dry_run_lists_files_and_sends_nothing(isolated, hub):
    result = publish("tiny", dry_run=True)
    assert result.dry_run and result.commit_id is None
    by_name = {f.name: f for f in result.files}
    assert set(by_name) == {"model.safetensors", "config.json", "README.md"}
    assert by_name["model.safetensors"].size == len(WEIGHTS)
    assert by_name["model.safetensors"].sha256 == sha(WEIGHTS)
    assert by_name["README.md"].sha256 == sha((isolated.parent.parent / "cards" / "tiny.md").read_bytes())
    assert hub.request_count == 0
    assert not (isolated / "README.md").exists()  # a dry run changes nothing


def test_publish_uploads_and_round_trips(isolated, hub, tmp_path):
    result = publish("tiny")
    assert re.fullmatch(r"[0-9a-f]{40}", result.commit_id)
    assert result.repo_id == REPO_ID
    repo = hub.root / REPO_ID
    assert (repo / "model.safetensors").read_bytes() == WEIGHTS
    assert (repo / "config.json").read_bytes() == CONFIG
    card_text = (tmp_path / "cards" / "tiny.md").read_bytes()
    assert (repo / "README.md").read_bytes() == card_text  # the card is the repo's README
    assert (isolated / "README.md").read_bytes() == card_text  # and the local mirror is in sync
    assert not (repo / ".cache").exists()
    assert hub.commits[-1]["oid"] == result.commit_id
    assert {"POST"} == {m for m, p in hub.requests if "/api/" in p}

    # Pin the commit on the card and download it back from the Hub (local copy skipped).
    pinned = make_card(revision=result.commit_id)
    resolved = resolve_weights(pinned, order="hub")
    assert resolved.revision == result.commit_id
    assert resolved.files["model.safetensors"].read_bytes() == WEIGHTS
    assert result.commit_id in hub.revisions


def test_publish_twice_moves_the_branch(isolated, hub):
    first = publish("tiny").commit_id
    (isolated / "notes.txt").write_text("v2")
    second = publish("tiny").commit_id
    assert first != second
    assert hub.commit_of(REPO_ID, "main") == second
    assert (hub.root / REPO_ID / "notes.txt").read_text() == "v2"


def test_hash_mismatch_is_refused_before_sending(isolated, hub):
    (isolated / "config.json").write_bytes(b'{"edited": true}\n')
    with pytest.raises(PublishError, match="config.json.*sha256"):
        publish("tiny")
    with pytest.raises(PublishError):
        publish("tiny", dry_run=True)
    assert hub.request_count == 0


def test_missing_folder_and_unknown_model(isolated, hub):
    for path in sorted(isolated.rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    isolated.rmdir()
    with pytest.raises(PublishError, match="no folder"):
        publish("tiny")
    with pytest.raises(PublishError, match="unknown model"):
        publish("nope")


def test_unauthorised_is_a_clean_error(tmp_path, monkeypatch):
    with HubStandIn(tmp_path / "hub-root", token="s3cret") as server:
        monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
        with pytest.raises(PublishError, match="401.*hf auth login"):
            publish("tiny")
        assert publish("tiny", token="s3cret").commit_id


@pytest.mark.timeout(60)  # hang guard: no minutes of retries
def test_unreachable_hub_is_a_clean_error(tmp_path, monkeypatch):
    with HubStandIn(tmp_path / "hub-root") as server:
        endpoint = server.endpoint
    monkeypatch.setenv("HF_ENDPOINT", endpoint)  # nothing listens there any more
    with pytest.raises(PublishError, match="could not reach"):
        publish("tiny")


def test_offline_mode_is_a_clean_error(hub, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(PublishError, match="HF_HUB_OFFLINE"):
        publish("tiny")


def test_cli_publish(isolated, hub, capsys):
    assert cli_main(["publish", "tiny", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would upload" in out and sha(WEIGHTS) in out and f"{len(WEIGHTS):,}" in out
    assert hub.request_count == 0
    assert cli_main(["publish", "tiny"]) == 0
    out = capsys.readouterr().out
    assert f"pin it on the card: medhub.hub.revision: {hub.commit_of(REPO_ID, 'main')}" in out
    (isolated / "config.json").write_bytes(b"{}")
    assert cli_main(["publish", "tiny"]) == 1
    assert "publish failed" in capsys.readouterr().out


def test_publish_parser_defaults():
    import argparse

    from medhub.studies.publish import add_publish_parser, run_publish

    parser = argparse.ArgumentParser()
    add_publish_parser(parser.add_subparsers())
    args = parser.parse_args(["publish", "tiny", "--repo-id", "me/x", "--dry-run"])
    assert args.func is run_publish
    assert (args.model_id, args.repo_id, args.dry_run, args.revision, args.token) == (
        "tiny",
        "me/x",
        True,
        None,
        None,
    )


def test_publish_to_other_repo(isolated, hub):
    result = publish("tiny", repo_id="someone/else")
    assert (hub.root / "someone" / "else" / "model.safetensors").read_bytes() == WEIGHTS
    assert result.repo_id == "someone/else"
    assert Path(hub.root / REPO_ID).exists() is False


def test_publish_then_download_every_file_at_the_commit(isolated, hub, tmp_path):
    """Issue 20: what `publish` put on the Hub comes back byte for byte, every file of the repo (listed
    with the Hub's own listing route, downloaded with `hf_hub_download` at the commit to pin), and a
    `snapshot_download` of that commit is the same set of files."""
    from huggingface_hub import HfApi, hf_hub_download, snapshot_download

    result = publish("tiny")
    api = HfApi(endpoint=hub.endpoint)
    listed = sorted(api.list_repo_files(REPO_ID, revision=result.commit_id))
    assert listed == sorted(f.name for f in result.files) == ["README.md", "config.json", "model.safetensors"]
    for name in listed:
        got = hf_hub_download(REPO_ID, name, revision=result.commit_id, endpoint=hub.endpoint,
                              cache_dir=tmp_path / "dl")
        assert Path(got).read_bytes() == (isolated / name).read_bytes(), name
    assert api.repo_info(REPO_ID, revision="main").sha == result.commit_id
    snap = Path(snapshot_download(REPO_ID, revision=result.commit_id, endpoint=hub.endpoint,
                                  cache_dir=tmp_path / "snap"))
    assert sorted(p.name for p in snap.iterdir()) == listed
    assert result.commit_id in hub.revisions
