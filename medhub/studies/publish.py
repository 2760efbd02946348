"""`python -m medhub publish <id>`: push `weights/<id>/` to the model's Hugging Face Hub repo.

The local folder mirrors the Hub repo file for file (`config.json`, the weights file, `README.md`
= the model card). Before anything is sent, every file the card lists is checked against the card's
sha256, so what lands on the Hub is what the card describes; `README.md` is refreshed from
`model_cards/<id>.md`, the card being the source of truth. `--dry-run` lists files, sizes and
sha256 and sends nothing. After a real upload, pin the printed commit as `hub.revision` on the card
so every later download gets exactly these bytes.

The upload uses `HfApi.upload_folder` (token from `--token`, `HF_TOKEN` or `hf auth login`;
endpoint from `HF_ENDPOINT`).
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from pathlib import Path

from medhub.cards import ModelCard, get_card
from medhub.weights import sha256_file, weights_root


class PublishError(RuntimeError):
    """The weights cannot be published (folder missing, hash mismatch, Hub refused the upload)."""


@dataclass(frozen=True)
class PublishedFile:
    name: str
    size: int
    sha256: str


@dataclass(frozen=True)
class PublishResult:
    repo_id: str
    revision: str
    files: list[PublishedFile] = field(default_factory=list)
    commit_id: str | None = None  # None for a dry run
    commit_url: str | None = None
    dry_run: bool = False


def _list_files(folder: Path) -> list[Path]:
    # Hidden files (.cache of huggingface_hub, editor droppings) are never part of a model repo.
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def _check_against_card(card: ModelCard, folder: Path, digests: dict[str, str]) -> None:
    for wf in card.files:
        if wf.name not in digests:
            raise PublishError(f"{card.id}: {folder / wf.name} is missing; the card lists it")
        if digests[wf.name] != wf.sha256:
            raise PublishError(
                f"{card.id}: {wf.name} has sha256 {digests[wf.name]} but the card expects {wf.sha256}; "
                "publishing it would break every download. Re-write the card from the training run "
                "(or restore the file) first."
            )


def publish(
    model_id: str,
    repo_id: str | None = None,
    revision: str | None = None,
    dry_run: bool = False,
    token: str | None = None,
    cards_dir: Path | str | None = None,
) -> PublishResult:
    """Upload `weights/<model_id>/` to `repo_id` (default: the card's) at `revision` (default main)."""
    try:
        card = get_card(model_id, cards_dir)
    except KeyError as exc:
        raise PublishError(str(exc.args[0])) from None
    repo_id = repo_id or card.repo_id
    target_revision = revision or "main"
    folder = weights_root() / card.id
    if not folder.is_dir():
        raise PublishError(f"{card.id}: no folder {folder} to publish (train the model or `git lfs pull`)")

    card_text = card.path.read_bytes() if card.path.is_file() else None
    readme = folder / "README.md"
    readme_stale = card_text is not None and (not readme.is_file() or readme.read_bytes() != card_text)

    files = _list_files(folder)
    digests = {p.relative_to(folder).as_posix(): sha256_file(p) for p in files}
    _check_against_card(card, folder, digests)
    listing = [
        PublishedFile(
            name=p.relative_to(folder).as_posix(),
            size=p.stat().st_size,
            sha256=digests[p.relative_to(folder).as_posix()],
        )
        for p in files
    ]
    if dry_run:
        if readme_stale:
            listing = [f for f in listing if f.name != "README.md"]
            listing.append(PublishedFile("README.md", len(card_text), _sha256_bytes(card_text)))
            listing.sort(key=lambda f: f.name)
        return PublishResult(repo_id=repo_id, revision=target_revision, files=listing, dry_run=True)

    if readme_stale:
        readme.write_bytes(card_text)
        listing = [f for f in listing if f.name != "README.md"]
        listing.append(PublishedFile("README.md", len(card_text), sha256_file(readme)))
        listing.sort(key=lambda f: f.name)

    import httpx2  # huggingface_hub's HTTP client; its transport errors are not OSErrors
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    endpoint = (os.environ.get("HF_ENDPOINT") or "").rstrip("/") or None
    api = HfApi(endpoint=endpoint, token=token)
    try:
        api.create_repo(repo_id, repo_type="model", exist_ok=True)
        info = api.upload_folder(
            repo_id=repo_id,
            folder_path=folder,
            revision=revision,
            commit_message=f"medhub: publish {card.id} weights",
            ignore_patterns=[".*", "**/.*"],
        )
    except OfflineModeIsEnabled as exc:
        raise PublishError(f"cannot publish with HF_HUB_OFFLINE=1 set: unset it ({exc})") from exc
    except HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else "?"
        hint = " (log in: `hf auth login`, or pass --token / set HF_TOKEN)" if status in (401, 403) else ""
        raise PublishError(
            f"the Hub refused the upload to {repo_id}: HTTP {status}{hint}: {str(exc).splitlines()[0]}"
        ) from exc
    except (httpx2.HTTPError, OSError, ValueError) as exc:
        # httpx2/OSError: connection refused, DNS, timeouts; ValueError: a bad repo id or server answer.
        raise PublishError(
            f"could not reach the Hub at {api.endpoint} to publish {repo_id}: {type(exc).__name__}: {exc}"
        ) from exc
    return PublishResult(
        repo_id=repo_id,
        revision=target_revision,
        files=listing,
        commit_id=info.oid,
        commit_url=info.commit_url,
    )


def _sha256_bytes(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def add_publish_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register `publish` on the CLI's subparsers."""
    parser = subparsers.add_parser(
        "publish",
        help="upload weights/<id>/ to the model's Hugging Face Hub repo",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    parser.add_argument("model_id", help="model id (a card in model_cards/)")
    parser.add_argument("--repo-id", help="target repo (default: the card's hub.repo_id)")
    parser.add_argument("--revision", help="branch to commit to (default: main)")
    parser.add_argument("--dry-run", action="store_true", help="list files, sizes and sha256; send nothing")
    parser.add_argument("--token", help="Hub token (default: HF_TOKEN or the saved login)")
    parser.set_defaults(func=run_publish)
    return parser


def run_publish(args: argparse.Namespace) -> int:
    """Run `publish` from parsed CLI arguments; prints a report, returns the exit code."""
    try:
        result = publish(
            args.model_id,
            repo_id=args.repo_id,
            revision=args.revision,
            dry_run=args.dry_run,
            token=args.token,
        )
    except PublishError as exc:
        print(f"publish failed: {exc}")
        return 1
    verb = "would upload" if result.dry_run else "uploaded"
    print(f"{verb} to {result.repo_id}@{result.revision}:")
    for f in result.files:
        print(f"  {f.name:<24} {f.size:>12,d} B  sha256 {f.sha256}")
    if result.commit_id:
        print(f"commit {result.commit_id}  {result.commit_url}")
        print(f"pin it on the card: medhub.hub.revision: {result.commit_id}")
    return 0


add_parser = add_publish_parser  # the CLI registers every study by `add_parser` (medhub/cli.py STUDIES)
