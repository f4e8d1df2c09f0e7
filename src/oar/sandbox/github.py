"""A GitHub stand-in: App authentication, the contents API of ``openshift/release-tests``
and pull request labels.

App auth checks what GitHub checks: an RS256 JWT signed by the app's private key, issued
by the app's ID, living at most ten minutes; it answers installation tokens that expire in
an hour. The repository API wants a token (``Authorization: token …`` or ``Bearer …``):
:data:`SANDBOX_TOKEN` or an installation token it minted; anything else is a 401 "Bad
credentials". Contents are served base64-encoded with git blob shas, and writes use
GitHub's optimistic locking: a stale ``sha`` is a 409, a missing one on an existing file a
422. The repository is seeded from :mod:`oar.sandbox.releasetests`.

Webhooks: ``POST /_sandbox/github/hooks`` ``{"url": …, "secret": …}`` registers a receiver
(OAR's ``/webhooks/github``); every later commit through the contents API (a file created,
updated or deleted) is then delivered to it as GitHub's ``push`` event — the branch's
``ref``, the commit's ``added`` / ``modified`` / ``removed`` paths, signed with
``X-Hub-Signature-256`` when a secret is given. ``GET`` lists the receivers and the
deliveries sent (status code or error); ``DELETE`` removes them.
``POST /_sandbox/github/z-stream/{y}`` ``{"release": "4.19.4"}`` is ART adding a release to
``_releases/<y>/<y>.z.yaml`` on ``z-stream`` (committed as "Add release …", pushed).
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from oar.github.webhooks import sign
from oar.integrations.github import blob_sha
from oar.sandbox import releasetests
from oar.sandbox.server import StandIn

SANDBOX_APP_ID = "424242"
SANDBOX_INSTALLATION_ID = 5150
SANDBOX_TOKEN = "ghp_oarSandboxToken0000000000000000000000"  # noqa: S105  (sandbox only)


def generate_private_key() -> str:
    """A fresh RSA key in PEM, as GitHub hands out for an App."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


def public_key_of(private_key_pem: str) -> str:
    key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@dataclass(kw_only=True)
class SandboxApp:
    app_id: str
    public_key: str
    installations: set[int] = field(default_factory=set)


_HOOKS = "/_sandbox/github/hooks"


_ZSTREAM = "/_sandbox/github/z-stream"


class NewHook(BaseModel):
    url: str
    secret: str | None = None


class NewZStreamRelease(BaseModel):
    release: str
    advisories: dict[str, int] = {}
    jira: str | None = None


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse(
        {"message": message, "documentation_url": "https://docs.github.com/rest"},
        status_code=status,
    )


class GitHubStandIn(StandIn):
    name = "github"

    def __init__(self, *, private_key: str | None = None) -> None:
        self.private_key = private_key or generate_private_key()
        self.apps: dict[str, SandboxApp] = {}
        self.tokens: dict[str, dict[str, Any]] = {}
        # repo -> branch -> path -> content
        self.repos: dict[str, dict[str, dict[str, str]]] = {}
        self.pull_labels: dict[tuple[str, int], list[str]] = {}
        self.commits: list[dict[str, str]] = []
        self.hooks: list[NewHook] = []
        self.hook_deliveries: list[dict[str, Any]] = []
        self._sending: set[asyncio.Task[None]] = set()
        super().__init__()

    def environment(self, base_url: str) -> dict[str, str]:
        return {
            "OAR_GITHUB_API_URL": base_url,
            "GITHUB_TOKEN": SANDBOX_TOKEN,
            "OAR_GITHUB_REPO": releasetests.REPO,
            "GITHUBAPP_URL": base_url + "/",
            "GITHUBAPP_ID": SANDBOX_APP_ID,
            # One line: Settings turns the literal \n back into newlines.
            "GITHUBAPP_PRIVATE_KEY": self.private_key.strip().replace("\n", "\\n"),
        }

    def reset(self) -> None:
        self.apps = {
            SANDBOX_APP_ID: SandboxApp(
                app_id=SANDBOX_APP_ID,
                public_key=public_key_of(self.private_key),
                installations={SANDBOX_INSTALLATION_ID},
            )
        }
        self.tokens = {}
        self.repos = {releasetests.REPO: releasetests.files()}
        self.pull_labels = {k: list(v) for k, v in releasetests.PULL_REQUEST_LABELS.items()}
        self.commits = []
        self.hooks = []
        self.hook_deliveries = []

    def _app_from_jwt(self, request: Request) -> SandboxApp | JSONResponse:
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("bearer "):
            return _error(401, "A JSON web token could not be decoded")
        token = header[7:]
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
            app = self.apps.get(str(unverified.get("iss")))
            if app is None:
                return _error(401, "Integration not found")
            claims = jwt.decode(token, app.public_key, algorithms=["RS256"], leeway=60)
        except jwt.PyJWTError as exc:
            return _error(401, f"A JSON web token could not be decoded: {exc}")
        if int(claims["exp"]) - int(claims["iat"]) > 11 * 60:
            return _error(401, "'Expiration time' claim ('exp') is too far in the future")
        return app

    def routes(self) -> None:
        app = self.app

        @app.get("/app")
        async def get_app(request: Request) -> Any:
            found = self._app_from_jwt(request)
            if isinstance(found, JSONResponse):
                return found
            return {"id": int(found.app_id), "slug": "oar-sandbox", "name": "OAR sandbox"}

        @app.post("/app/installations/{installation_id}/access_tokens", status_code=201)
        async def access_token(installation_id: int, request: Request) -> Any:
            found = self._app_from_jwt(request)
            if isinstance(found, JSONResponse):
                return found
            if installation_id not in found.installations:
                return _error(404, "Not Found")
            token = f"ghs_{secrets.token_urlsafe(27)}"
            expires_at = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
            self.tokens[token] = {"installation_id": installation_id, "expires_at": expires_at}
            return JSONResponse(
                {
                    "token": token,
                    "expires_at": expires_at,
                    "permissions": {
                        "contents": "write",
                        "metadata": "read",
                        "pull_requests": "write",
                    },
                    "repository_selection": "all",
                },
                status_code=201,
            )

        self._repository_routes()
        self._hook_routes()

    # --- webhooks -----------------------------------------------------------------------------

    def _hook_routes(self) -> None:
        app = self.app

        @app.post(_HOOKS, status_code=201)
        async def add_hook(body: NewHook) -> Any:
            self.hooks.append(body)
            return {"url": body.url, "signed": body.secret is not None}

        @app.get(_HOOKS)
        async def list_hooks() -> Any:
            return {
                "hooks": [{"url": h.url, "signed": h.secret is not None} for h in self.hooks],
                "deliveries": list(self.hook_deliveries),
            }

        @app.delete(_HOOKS)
        async def delete_hooks() -> Any:
            self.hooks = []
            return {"ok": True}

        @app.post(_ZSTREAM + "/{y_stream}", status_code=201)
        async def add_z_stream_release(
            y_stream: str, body: NewZStreamRelease, request: Request
        ) -> Any:
            """ART adds a release to ``_releases/<y>/<y>.z.yaml`` (a commit, so a push)."""
            files = self.repos[releasetests.REPO].setdefault("z-stream", {})
            path = f"_releases/{y_stream}/{y_stream}.z.yaml"
            document = yaml.safe_load(files.get(path, "releases: {}\n")) or {}
            releases = document.setdefault("releases", {}) or {}
            if body.release in releases:
                return _error(409, f"{body.release} is already in {path}")
            releases[body.release] = {"advisories": body.advisories, "release_jira": body.jira}
            document["releases"] = releases
            existed = path in files
            files[path] = yaml.safe_dump(document, sort_keys=False)
            self._change(
                request,
                repo=releasetests.REPO,
                branch="z-stream",
                path=path,
                message=f"Add release {body.release}",
                content=files[path],
                change="modified" if existed else "added",
            )
            return {"path": path, "releases": list(releases)}

    def _push(
        self, *, repo: str, branch: str, sha: str, message: str, change: str, path: str
    ) -> None:
        """Deliver a ``push`` for one commit to every registered receiver (in the background:
        the contents API answers at once, as GitHub's does)."""
        owner, _, name = repo.partition("/")
        commit = {
            "id": sha,
            "message": message,
            "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "added": [path] if change == "added" else [],
            "modified": [path] if change == "modified" else [],
            "removed": [path] if change == "removed" else [],
        }
        payload = {
            "ref": f"refs/heads/{branch}",
            "before": "0" * 40,
            "after": sha,
            "repository": {
                "full_name": repo,
                "name": name,
                "owner": {"login": owner, "name": owner},
                "default_branch": "main",
            },
            "pusher": {"name": "openshift-bot", "email": "oar-sandbox@example.com"},
            "commits": [commit],
            "head_commit": commit,
            "installation": {"id": SANDBOX_INSTALLATION_ID},
        }
        body = json.dumps(payload).encode()
        for hook in list(self.hooks):
            task = asyncio.get_running_loop().create_task(self._deliver(hook, body))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    async def _deliver(self, hook: NewHook, body: bytes) -> None:
        delivery = str(uuid.uuid4())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "GitHub-Hookshot/oar-sandbox",
            "X-GitHub-Event": "push",
            "X-GitHub-Delivery": delivery,
            "X-GitHub-Hook-ID": "1",
        }
        if hook.secret is not None:
            headers["X-Hub-Signature-256"] = sign(hook.secret, body)
        record: dict[str, Any] = {"delivery": delivery, "url": hook.url, "event": "push"}
        try:
            async with httpx.AsyncClient(timeout=30) as client:
                response = await client.post(hook.url, content=body, headers=headers)
            record["status_code"] = response.status_code
        except httpx.HTTPError as exc:
            record["error"] = f"{type(exc).__name__}: {exc}"
        self.hook_deliveries.append(record)

    # --- repository API -----------------------------------------------------------------

    def _authorized(self, request: Request) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() not in ("token", "bearer") or not token:
            return False
        if secrets.compare_digest(token, SANDBOX_TOKEN):
            return True
        return token in self.tokens

    def _branch(self, repo: str, ref: str | None) -> dict[str, str] | JSONResponse:
        branches = self.repos.get(repo)
        if branches is None:
            return _error(404, "Not Found")
        files = branches.get(ref or "main")
        if files is None:
            return _error(404, f"No commit found for the ref {ref}")
        return files

    def _item(self, request: Request, repo: str, path: str, content: str | None) -> dict[str, Any]:
        base = str(request.base_url).rstrip("/")
        name = path.rsplit("/", 1)[-1]
        kind = "file" if content is not None else "dir"
        sha = blob_sha(content) if content is not None else blob_sha(f"tree:{path}")
        url = f"{base}/repos/{repo}/contents/{path}"
        html = f"https://github.com/{repo}/blob/main/{path}"
        git = f"{base}/repos/{repo}/git/{'blobs' if content is not None else 'trees'}/{sha}"
        item: dict[str, Any] = {
            "type": kind,
            "size": len(content.encode()) if content is not None else 0,
            "name": name,
            "path": path,
            "sha": sha,
            "url": url,
            "git_url": git,
            "html_url": html,
            "download_url": (f"{base}/raw/{repo}/main/{path}" if content is not None else None),
            "_links": {"self": url, "git": git, "html": html},
        }
        return item

    def _repository_routes(self) -> None:
        app = self.app

        @app.get("/repos/{owner}/{name}/contents")
        @app.get("/repos/{owner}/{name}/contents/{path:path}")
        async def get_content(
            owner: str, name: str, request: Request, path: str = "", ref: str | None = None
        ) -> Any:
            if not self._authorized(request):
                return _error(401, "Bad credentials")
            repo = f"{owner}/{name}"
            files = self._branch(repo, ref)
            if isinstance(files, JSONResponse):
                return files
            path = path.strip("/")
            if path in files:
                item = self._item(request, repo, path, files[path])
                item["encoding"] = "base64"
                item["content"] = base64.encodebytes(files[path].encode()).decode()
                return item
            prefix = f"{path}/" if path else ""
            children: dict[str, str | None] = {}
            for file_path, content in files.items():
                if file_path.startswith(prefix):
                    child, _, deeper = file_path[len(prefix) :].partition("/")
                    children.setdefault(child, None if deeper else content)
            if not children:
                return _error(404, "Not Found")
            return [
                self._item(request, repo, prefix + child, children[child])
                for child in sorted(children)
            ]

        @app.put("/repos/{owner}/{name}/contents/{path:path}")
        async def put_content(owner: str, name: str, path: str, request: Request) -> Any:
            if not self._authorized(request):
                return _error(401, "Bad credentials")
            body = await request.json()
            repo = f"{owner}/{name}"
            branch = body.get("branch") or "main"
            files = self._branch(repo, branch)
            if isinstance(files, JSONResponse):
                return files
            if not isinstance(body.get("message"), str) or not isinstance(body.get("content"), str):
                return _error(422, "Invalid request: message and content are required")
            path = path.strip("/")
            current = files.get(path)
            sha = body.get("sha")
            if current is not None and sha is None:
                return _error(422, 'Invalid request.\n\n"sha" wasn\'t supplied.')
            if current is None and sha is not None:
                return _error(404, "Not Found")
            if current is not None and sha != blob_sha(current):
                return _error(409, f"{path} does not match {sha}")
            try:
                content = base64.b64decode(body["content"]).decode()
            except ValueError:
                return _error(422, "content is not valid Base64")
            files[path] = content
            answer = self._change(
                request,
                repo=repo,
                branch=branch,
                path=path,
                message=body["message"],
                content=content,
                change="added" if current is None else "modified",
            )
            return JSONResponse(answer, status_code=201 if current is None else 200)

        @app.delete("/repos/{owner}/{name}/contents/{path:path}")
        async def delete_content(owner: str, name: str, path: str, request: Request) -> Any:
            if not self._authorized(request):
                return _error(401, "Bad credentials")
            body = await request.json()
            repo = f"{owner}/{name}"
            branch = body.get("branch") or "main"
            files = self._branch(repo, branch)
            if isinstance(files, JSONResponse):
                return files
            path = path.strip("/")
            current = files.get(path)
            if current is None:
                return _error(404, "Not Found")
            if body.get("sha") != blob_sha(current):
                return _error(409, f"{path} does not match {body.get('sha')}")
            del files[path]
            answer = self._change(
                request,
                repo=repo,
                branch=branch,
                path=path,
                message=str(body.get("message")),
                content=None,
                change="removed",
            )
            return answer

        self._label_routes()

    def _label_routes(self) -> None:
        app = self.app

        @app.get("/repos/{owner}/{name}/branches")
        async def branches(owner: str, name: str, request: Request) -> Any:
            if not self._authorized(request):
                return _error(401, "Bad credentials")
            found = self.repos.get(f"{owner}/{name}")
            if found is None:
                return _error(404, "Not Found")
            return [
                {"name": branch, "commit": {"sha": blob_sha(branch)}, "protected": False}
                for branch in found
            ]

        @app.get("/repos/{owner}/{name}/issues/{number}/labels")
        async def labels(owner: str, name: str, number: int, request: Request) -> Any:
            if not self._authorized(request):
                return _error(401, "Bad credentials")
            found = self.pull_labels.get((f"{owner}/{name}", number))
            if found is None:
                return _error(404, "Not Found")
            return [_label(request, f"{owner}/{name}", label) for label in found]

        @app.post("/repos/{owner}/{name}/issues/{number}/labels")
        async def add_labels(owner: str, name: str, number: int, request: Request) -> Any:
            if not self._authorized(request):
                return _error(401, "Bad credentials")
            found = self.pull_labels.get((f"{owner}/{name}", number))
            if found is None:
                return _error(404, "Not Found")
            body = await request.json()
            new = body.get("labels", []) if isinstance(body, dict) else body
            found.extend(label for label in new if label not in found)
            return [_label(request, f"{owner}/{name}", label) for label in found]

        @app.get("/repos/{owner}/{name}/pulls/{number}")
        async def pull(owner: str, name: str, number: int, request: Request) -> Any:
            if not self._authorized(request):
                return _error(401, "Bad credentials")
            repo = f"{owner}/{name}"
            found = self.pull_labels.get((repo, number))
            if found is None:
                return _error(404, "Not Found")
            return {
                "number": number,
                "state": "open",
                "title": f"Sandbox pull request {number}",
                "html_url": f"https://github.com/{repo}/pull/{number}",
                "labels": [_label(request, repo, label) for label in found],
            }

    def _change(
        self,
        request: Request,
        *,
        repo: str,
        branch: str,
        path: str,
        message: str,
        content: str | None,
        change: str,
    ) -> dict[str, Any]:
        """Commit one file's change and deliver its ``push`` to the registered receivers."""
        answer = self._commit(
            request, repo=repo, branch=branch, path=path, message=message, content=content
        )
        self._push(
            repo=repo,
            branch=branch,
            sha=answer["commit"]["sha"],
            message=message,
            change=change,
            path=path,
        )
        return answer

    def _commit(
        self,
        request: Request,
        *,
        repo: str,
        branch: str,
        path: str,
        message: str,
        content: str | None,
    ) -> dict[str, Any]:
        sha = blob_sha(f"commit:{len(self.commits)}:{branch}:{path}:{message}")
        self.commits.append({"repo": repo, "branch": branch, "path": path, "message": message})
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        person = {"name": "OAR sandbox", "email": "oar-sandbox@example.com", "date": now}
        return {
            "content": self._item(request, repo, path, content) if content is not None else None,
            "commit": {
                "sha": sha,
                "message": message,
                "author": person,
                "committer": person,
                "parents": [],
            },
        }


def _label(request: Request, repo: str, name: str) -> dict[str, Any]:
    base = str(request.base_url).rstrip("/")
    return {
        "id": int(blob_sha(name)[:8], 16),
        "node_id": f"LA_{blob_sha(name)[:12]}",
        "url": f"{base}/repos/{repo}/labels/{name}",
        "name": name,
        "description": None,
        "color": "ededed",
        "default": False,
        "archived_at": None,
        "archived_by": None,
    }
