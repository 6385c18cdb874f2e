"""Static assets: the build id follows the content, types and cache headers per file."""

import re

import pytest

from switchyard.ops.assets import CSP, StaticAssets


def _files(**extra: bytes) -> dict[str, bytes]:
    return {
        "index.html": b'<script type="module" src="/ui/{{BUILD}}/main.js"></script>',
        "main.js": b"export {};",
        "app.css": b"body{}",
        **extra,
    }


def test_assets_build_id_changes_with_any_file() -> None:
    first = StaticAssets(_files())
    assert StaticAssets(_files()).build == first.build
    assert StaticAssets(_files(**{"app.css": b"body{color:red}"})).build != first.build


def test_assets_page_names_the_build_and_is_revalidated() -> None:
    assets = StaticAssets(_files())
    response = assets.page_response()
    assert f"/ui/{assets.build}/main.js".encode() in response.body
    headers = dict(response.headers)
    assert headers[b"cache-control"] == b"no-cache"
    assert headers[b"content-security-policy"] == CSP
    assert response.content_type == b"text/html; charset=utf-8"


def test_assets_of_this_build_are_immutable_others_404() -> None:
    assets = StaticAssets(_files())
    ok = assets.asset_response(assets.build, "main.js")
    assert ok.status == 200
    assert ok.content_type == b"text/javascript; charset=utf-8"
    assert dict(ok.headers)[b"cache-control"] == b"public, max-age=31536000, immutable"
    assert assets.asset_response("0" * 12, "main.js").status == 404
    assert assets.asset_response(assets.build, "missing.js").status == 404
    assert assets.asset_response(assets.build, "index.html").status == 404


def test_assets_refuse_a_file_without_a_known_type() -> None:
    with pytest.raises(AssertionError):
        StaticAssets(_files(**{"notes.txt": b"x"}))


def test_assets_shipped_ui_has_no_inline_script_or_style_and_no_cdn() -> None:
    assets = StaticAssets.from_package()
    page = assets.page.decode()
    assert "<script>" not in page
    assert " style=" not in page
    remote = re.compile(
        r"""(src|href)=["']?(https?:)?//|from\s+["'](https?:)?//|import\(["'](https?:)?//|url\(["']?(https?:)?//"""
    )
    for asset in assets.assets.values():
        assert not remote.search(asset.body.decode()), asset.name
    assert {"main.js", "app.css", "validate.js"} <= set(assets.assets)
