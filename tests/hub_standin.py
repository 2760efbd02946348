"""A local stand-in for the Hugging Face Hub, enough for `hf_hub_download` and `HfApi.upload_folder`.

It serves a folder laid out as `<root>/<org>/<name>/<files>` on 127.0.0.1 (a free port):

- `HEAD`/`GET /{org}/{name}/resolve/{revision}/{path}`: 200 with `ETag` (the file's sha256),
  `X-Repo-Commit` (40 hex, fixed per repo and revision; a 40-hex revision is its own commit) and
  `Content-Length`; otherwise 404 with `X-Error-Code: EntryNotFound` (or `RepoNotFound`).
- `POST /api/repos/create`: creates the folder (409 when it exists, which `exist_ok=True` accepts).
- `POST /api/models/{org}/{name}/preupload/{revision}`: every file is "regular" (inline base64), so
  no LFS or Xet storage is needed.
- `POST /api/models/{org}/{name}/commit/{revision}`: writes the NDJSON commit's files into the
  folder and moves the revision to a new commit id.
- `POST /api/validate-yaml`: checks that a README's front matter is a YAML mapping (upload_folder
  asks before committing a README.md).
- `GET /api/{models|datasets}/{org}/{name}/revision/{revision}`: the repo's info (`sha` = the
  revision's commit, `siblings` = its files), what `repo_info` and `snapshot_download` ask first.
- `GET /api/{models|datasets}/{org}/{name}/tree/{revision}[/{path}]?recursive=...`: the listing of
  `list_repo_tree` / `list_repo_files` (files with size and git blob id, folders), one page.

Dataset repos (`repo_type="dataset"`) live under `<root>/datasets/<org>/<name>` and are served at
`/datasets/{org}/{name}/resolve/...`, `/api/datasets/...`; every route above takes them.

Every request's revision is recorded (`revisions`), and requests are counted (`request_count`).
Files are served from the folder as it is now, whatever the revision: the stand-in checks what a
client asks for, it is not a version store.

Use it as a context manager (`with HubStandIn(root) as hub: hub.endpoint`), or from the command
line for manual checks: `python tests/hub_standin.py DIR [--port N]`, then
`HF_ENDPOINT=http://127.0.0.1:N python -m medhub ...`.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

_RESOLVE = re.compile(r"^/(?P<kind>datasets/)?(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<path>.+)$")
_API = re.compile(r"^/api/(?P<kind>models|datasets)/(?P<repo>[^/]+/[^/]+)/(?P<op>preupload|commit)/(?P<rev>[^/]+)$")
_INFO = re.compile(r"^/api/(?P<kind>models|datasets)/(?P<repo>[^/]+/[^/]+)/revision/(?P<rev>[^/]+)$")
_TREE = re.compile(r"^/api/(?P<kind>models|datasets)/(?P<repo>[^/]+/[^/]+)/tree/(?P<rev>[^/]+)(?:/(?P<path>.+))?$")


def repo_key(repo_id: str, kind: str | None = None) -> str:
    """Where a repo lives under the root and in `refs`: `org/name` for a model, `datasets/org/name`."""
    return f"datasets/{repo_id}" if kind in ("datasets", "datasets/", "dataset") else repo_id


def git_blob_id(data: bytes) -> str:
    """The git blob sha1 of a file's bytes (the `oid` the Hub lists for a file)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
_HEX40 = re.compile(r"^[0-9a-f]{40}$")


def commit_for(repo_id: str, revision: str) -> str:
    """The commit id the stand-in reports for a revision (stable, so caches behave like the Hub's)."""
    if _HEX40.match(revision):
        return revision
    return hashlib.sha1(f"{repo_id}@{revision}".encode()).hexdigest()


class HubStandIn:
    """Threaded HTTP server that answers like the Hub for the folder `root`."""

    def __init__(self, root: Path | str, port: int = 0, token: str | None = None) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.token = token  # when set, write requests need `Authorization: Bearer <token>`
        self.revisions: list[str] = []
        self.requests: list[tuple[str, str]] = []  # (method, path)
        self.commits: list[dict] = []  # what each commit wrote: {"repo", "revision", "oid", "files"}
        self.refs: dict[tuple[str, str], str] = {}  # (repo, branch) -> commit after a commit
        self._lock = threading.Lock()
        self._port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ lifecycle
    @property
    def endpoint(self) -> str:
        if self._server is None:
            raise RuntimeError("the stand-in is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def request_count(self) -> int:
        with self._lock:
            return len(self.requests)

    def start(self) -> HubStandIn:
        handler = type("Handler", (_Handler,), {"hub": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", self._port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="hub-standin", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> HubStandIn:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------ helpers for tests
    def add_file(self, repo_id: str, name: str, data: bytes, repo_type: str = "model") -> Path:
        path = self.root / repo_key(repo_id, repo_type) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    def commit_of(self, repo_id: str, revision: str, repo_type: str = "model") -> str:
        key = repo_key(repo_id, repo_type)
        with self._lock:
            return self.refs.get((key, revision)) or commit_for(key, revision)

    def _record(self, method: str, path: str, revision: str | None) -> None:
        with self._lock:
            self.requests.append((method, path))
            if revision is not None:
                self.revisions.append(revision)


class _Handler(BaseHTTPRequestHandler):
    hub: HubStandIn
    protocol_version = "HTTP/1.1"  # keep-alive, as httpx expects; every answer has a Content-Length

    def log_message(self, fmt: str, *args) -> None:  # quiet: tests read `hub.requests` instead
        pass

    # ------------------------------------------------------------ replies
    def _reply(
        self,
        status: int,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        send_body: bool = True,
        content_length: int | None = None,
    ) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body) if content_length is None else content_length))
        self.end_headers()
        if send_body and body:
            self.wfile.write(body)

    def _json(self, status: int, obj: object, headers: dict[str, str] | None = None) -> None:
        self._reply(status, json.dumps(obj).encode(), {"Content-Type": "application/json", **(headers or {})})

    def _error(
        self, status: int, code: str, message: str, send_body: bool = True, commit: str | None = None
    ) -> None:
        headers = {"X-Error-Code": code, "X-Error-Message": message, "Content-Type": "application/json"}
        if commit:
            headers["X-Repo-Commit"] = commit
        body = json.dumps({"error": message}).encode()
        self._reply(status, body, headers, send_body=send_body)

    def _authorised(self) -> bool:
        if self.hub.token is None:
            return True
        return self.headers.get("Authorization", "") == f"Bearer {self.hub.token}"

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    # ------------------------------------------------------------ file downloads
    def _resolve(self, send_body: bool) -> None:
        path = unquote(urlsplit(self.path).path)
        match = _RESOLVE.match(path)
        if not match:
            self.hub._record(self.command, path, None)
            self._error(404, "EntryNotFound", f"no such route {path}", send_body)
            return
        repo, revision, name = match["repo"], match["rev"], match["path"]
        self.hub._record(self.command, path, revision)
        key = repo_key(repo, match["kind"])
        repo_dir = self.hub.root / key
        if not repo_dir.is_dir():
            self._error(404, "RepoNotFound", f"Repository {repo} not found", send_body)
            return
        commit = self.hub.commit_of(key, revision)
        file = (repo_dir / name).resolve()
        if repo_dir.resolve() not in file.parents or not file.is_file():
            self._error(
                404, "EntryNotFound", f"{name} does not exist in {repo}@{revision}", send_body, commit=commit
            )
            return
        data = file.read_bytes()
        headers = {
            "ETag": f'"{hashlib.sha256(data).hexdigest()}"',
            "X-Repo-Commit": commit,
            "Content-Type": "application/octet-stream",
        }
        self._reply(200, data, headers, send_body=send_body)

    def do_HEAD(self) -> None:  # noqa: N802 (the name http.server dispatches to)
        self._resolve(send_body=False)

    def do_GET(self) -> None:  # noqa: N802
        path = unquote(urlsplit(self.path).path)
        info, tree = _INFO.match(path), _TREE.match(path)
        if info or tree:
            match = info or tree
            self.hub._record("GET", path, match["rev"])
            key = repo_key(match["repo"], match["kind"])
            repo_dir = self.hub.root / key
            if not repo_dir.is_dir():
                return self._error(404, "RepoNotFound", f"Repository {match['repo']} not found")
            commit = self.hub.commit_of(key, match["rev"])
            if info:
                return self._repo_info(match["repo"], repo_dir, commit)
            query = parse_qs(urlsplit(self.path).query)
            recursive = (query.get("recursive") or ["false"])[0].lower() == "true"
            return self._tree(repo_dir, match["path"] or "", recursive, commit)
        self._resolve(send_body=True)

    # ------------------------------------------------------------ listings
    @staticmethod
    def _files(repo_dir: Path) -> list[Path]:
        return sorted(p for p in repo_dir.rglob("*") if p.is_file())

    def _repo_info(self, repo: str, repo_dir: Path, commit: str) -> None:
        siblings = [{"rfilename": p.relative_to(repo_dir).as_posix()} for p in self._files(repo_dir)]
        self._json(200, {"id": repo, "sha": commit, "private": False, "siblings": siblings},
                   {"X-Repo-Commit": commit})

    def _tree(self, repo_dir: Path, sub: str, recursive: bool, commit: str) -> None:
        base = (repo_dir / sub).resolve() if sub else repo_dir.resolve()
        if repo_dir.resolve() not in (base, *base.parents) or not base.is_dir():
            return self._error(404, "EntryNotFound", f"{sub} is not a folder of the repo", commit=commit)
        entries = []
        children = base.rglob("*") if recursive else base.iterdir()
        for p in sorted(children):
            rel = p.relative_to(repo_dir.resolve()).as_posix()
            if p.is_dir():
                entries.append({"type": "directory", "path": rel, "oid": "0" * 40})
            else:
                data = p.read_bytes()
                entries.append({"type": "file", "path": rel, "size": len(data), "oid": git_blob_id(data)})
        self._json(200, entries, {"X-Repo-Commit": commit})

    # ------------------------------------------------------------ uploads
    def do_POST(self) -> None:  # noqa: N802
        path = unquote(urlsplit(self.path).path)
        body = self._read_body()
        if path == "/api/repos/create":
            self.hub._record("POST", path, None)
            return self._create_repo(body)
        if path == "/api/validate-yaml":
            self.hub._record("POST", path, None)
            return self._validate_yaml(body)
        match = _API.match(path)
        self.hub._record("POST", path, match["rev"] if match else None)
        if not match:
            return self._error(404, "NotFound", f"no such route {path}")
        if not self._authorised():
            return self._error(401, "Unauthorized", "Invalid credentials in Authorization header")
        key = repo_key(match["repo"], match["kind"])
        repo_dir = self.hub.root / key
        if not repo_dir.is_dir():
            return self._error(404, "RepoNotFound", f"Repository {match['repo']} not found")
        if match["op"] == "preupload":
            files = json.loads(body or b"{}").get("files", [])
            return self._json(
                200,
                {
                    "files": [
                        {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files
                    ]
                },
            )
        return self._commit(key, match["rev"], repo_dir, body)

    def _validate_yaml(self, body: bytes) -> None:
        """What upload_folder asks before committing a README.md: is its front matter a YAML mapping?"""
        import yaml

        content = json.loads(body or b"{}").get("content", "")
        if not content.startswith("---"):
            return self._json(
                200, {"errors": [], "warnings": [{"message": "empty or missing yaml metadata"}]}
            )
        head = content[3:].split("\n---", 1)[0]
        try:
            meta = yaml.safe_load(head)
            problem = None if isinstance(meta, dict) else "the metadata is not a mapping"
        except yaml.YAMLError as exc:
            problem = f"invalid YAML: {exc}"
        if problem:
            return self._json(
                400, {"errors": [{"message": problem}], "warnings": []}, {"X-Error-Code": "BadRequest"}
            )
        return self._json(200, {"errors": [], "warnings": []})

    def _create_repo(self, body: bytes) -> None:
        if not self._authorised():
            return self._error(401, "Unauthorized", "Invalid credentials in Authorization header")
        payload = json.loads(body or b"{}")
        repo = f"{payload.get('organization')}/{payload.get('name')}"
        repo_dir = self.hub.root / repo_key(repo, payload.get("type"))
        if repo_dir.is_dir():
            # The Hub's 409 also carries the url, which `create_repo(exist_ok=True)` returns.
            body = json.dumps(
                {"error": "You already created this model repo", "url": f"{self.hub.endpoint}/{repo}"}
            ).encode()
            return self._reply(409, body, {"Content-Type": "application/json", "X-Error-Code": "RepoExists"})
        repo_dir.mkdir(parents=True)
        return self._json(200, {"url": f"{self.hub.endpoint}/{repo}"})

    def _commit(self, repo: str, revision: str, repo_dir: Path, body: bytes) -> None:
        written: dict[str, bytes] = {}
        for line in body.splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            if item.get("key") == "file":
                value = item["value"]
                if value.get("encoding") != "base64":
                    return self._error(400, "BadRequest", "only base64 file content is supported")
                written[value["path"]] = base64.b64decode(value["content"])
            elif item.get("key") in ("lfsFile", "deletedFile", "deletedFolder"):
                # Preupload never answers "lfs", and publish deletes nothing.
                return self._error(400, "BadRequest", f"the stand-in does not support {item['key']}")
        for name in written:
            target = (repo_dir / name).resolve()
            if repo_dir.resolve() not in target.parents:
                return self._error(400, "BadRequest", f"path {name} leaves the repo")
        for name, data in written.items():
            target = repo_dir / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        with self.hub._lock:
            previous = self.hub.refs.get((repo, revision)) or commit_for(repo, revision)
            oid = hashlib.sha1(f"{previous}:{len(self.hub.commits)}".encode()).hexdigest()
            self.hub.refs[(repo, revision)] = oid
            self.hub.commits.append(
                {"repo": repo, "revision": revision, "oid": oid, "files": sorted(written)}
            )
        return self._json(
            200, {"commitUrl": f"{self.hub.endpoint}/{repo}/commit/{oid}", "commitOid": oid, "success": True}
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="folder holding <org>/<name>/<files>")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    args = parser.parse_args()
    with HubStandIn(args.root, port=args.port) as hub:
        print(f"Hub stand-in serving {args.root} at {hub.endpoint} (Ctrl-C to stop)", flush=True)
        print(f"  export HF_ENDPOINT={hub.endpoint}", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
