"""The UI's static files: loaded once at start, served from memory with the right headers.

Owns the asset table and the answers for `GET /` and `GET /ui/{build}/{name}`; must not know
what the pages do. The files under `static/` are plain ES modules, CSS and SVG (no build step,
no CDN). The build id is a digest of every file, so asset URLs change whenever any file does:
assets are cached as immutable, while the page itself (which names the build) is revalidated
on every load. A Content-Security-Policy allows only this origin (no inline script or style).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from typing import Final

from switchyard.adapters.http import Response, error_response

ASSET_BYTES_MAX: Final = 4 * 1024 * 1024  # the whole UI; a larger static dir is a mistake
BUILD_PLACEHOLDER: Final = b"{{BUILD}}"
INDEX_NAME: Final = "index.html"

CONTENT_TYPES: Final[dict[str, bytes]] = {
    ".html": b"text/html; charset=utf-8",
    ".js": b"text/javascript; charset=utf-8",
    ".css": b"text/css; charset=utf-8",
    ".svg": b"image/svg+xml",
    ".json": b"application/json",
    ".png": b"image/png",
}

# Only this origin: scripts and styles from files, data from our own API and streams.
CSP: Final = (
    b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    b"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    b"form-action 'self'; frame-ancestors 'none'"
)
_COMMON_HEADERS: Final = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)
_PAGE_HEADERS: Final = (
    (b"cache-control", b"no-cache"),
    (b"content-security-policy", CSP),
    (b"x-frame-options", b"DENY"),
    *_COMMON_HEADERS,
)
_ASSET_HEADERS: Final = (
    (b"cache-control", b"public, max-age=31536000, immutable"),
    *_COMMON_HEADERS,
)


@dataclass(frozen=True, slots=True)
class Asset:
    """One file: its bytes and content type."""

    name: str
    body: bytes
    content_type: bytes


class StaticAssets:
    """Every UI file in memory, the build id, and the page with the build id filled in."""

    def __init__(self, files: dict[str, bytes]) -> None:
        assert INDEX_NAME in files, "the UI needs an index.html"
        assert sum(len(body) for body in files.values()) <= ASSET_BYTES_MAX
        digest = hashlib.sha256()
        for name in sorted(files):
            digest.update(name.encode() + b"\0" + files[name] + b"\0")
        self.build = digest.hexdigest()[:12]
        self.assets: dict[str, Asset] = {}
        for name, body in files.items():
            content_type = CONTENT_TYPES.get(_suffix(name))
            assert content_type is not None, f"no content type for {name}"
            self.assets[name] = Asset(name, body, content_type)
        page = files[INDEX_NAME].replace(BUILD_PLACEHOLDER, self.build.encode())
        assert BUILD_PLACEHOLDER not in page
        self.page = page

    @classmethod
    def from_package(cls) -> StaticAssets:
        """Load `switchyard/ops/static/*` (flat: asset URLs have one name segment)."""
        root = resources.files("switchyard.ops") / "static"
        files = {
            entry.name: entry.read_bytes()
            for entry in root.iterdir()
            if entry.is_file() and not entry.name.startswith(".")
        }
        return cls(files)

    def page_response(self) -> Response:
        """`GET /`: the single page, never cached without revalidation."""
        return Response(200, self.page, content_type=CONTENT_TYPES[".html"], headers=_PAGE_HEADERS)

    def asset_response(self, build: str, name: str) -> Response:
        """`GET /ui/{build}/{name}`: an asset of this build (immutable), else 404."""
        asset = self.assets.get(name)
        if build != self.build or asset is None or name == INDEX_NAME:
            return error_response(404, "NOT_FOUND", f"no UI asset {build}/{name}")
        return Response(200, asset.body, content_type=asset.content_type, headers=_ASSET_HEADERS)


def _suffix(name: str) -> str:
    dot = name.rfind(".")
    return name[dot:] if dot >= 0 else ""
