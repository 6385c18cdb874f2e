"""A small router: exact paths in a dict, templated paths (`/orders/{id}/cancel`) by segment.

A path that exists with another method answers 405 with `Allow`; an unknown path 404. Routes
that take a JSON body refuse other content types with 415 before the handler runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import unquote

from .messages import HandlerResult, Request, Response, error_response

Handler = Callable[[Request], HandlerResult]


@dataclass(slots=True)
class Route:
    method: str
    template: str
    handler: Handler
    json_body: bool
    name: str


@dataclass(slots=True)
class _Node:
    routes: dict[str, Route] = field(default_factory=dict)  # method -> route


class Router:
    """Maps (method, path) to a handler. Built once at start; lookups allocate little."""

    def __init__(self) -> None:
        self._exact: dict[str, _Node] = {}
        # templated routes grouped by number of segments: [(segments, node)]
        self._templated: dict[int, list[tuple[tuple[str, ...], _Node]]] = {}
        self.routes: list[Route] = []

    def add(
        self,
        method: str,
        template: str,
        handler: Handler,
        *,
        json_body: bool = False,
        name: str = "",
    ) -> None:
        assert template.startswith("/"), template
        route = Route(method, template, handler, json_body, name or handler.__name__)
        self.routes.append(route)
        if "{" not in template:
            node = self._exact.setdefault(template, _Node())
        else:
            segments = tuple(template.strip("/").split("/"))
            bucket = self._templated.setdefault(len(segments), [])
            for existing, existing_node in bucket:
                if existing == segments:
                    node = existing_node
                    break
            else:
                node = _Node()
                bucket.append((segments, node))
        assert method not in node.routes, f"{method} {template} registered twice"
        node.routes[method] = route

    def get(self, template: str, handler: Handler, **kwargs: object) -> None:
        self.add("GET", template, handler, **kwargs)  # type: ignore[arg-type]

    def post(self, template: str, handler: Handler, **kwargs: object) -> None:
        self.add("POST", template, handler, **kwargs)  # type: ignore[arg-type]

    def put(self, template: str, handler: Handler, **kwargs: object) -> None:
        self.add("PUT", template, handler, **kwargs)  # type: ignore[arg-type]

    def resolve(self, method: str, path: str) -> tuple[Route | None, dict[str, str], _Node | None]:
        node = self._exact.get(path)
        params: dict[str, str] = {}
        if node is None:
            node, params = self._match_template(path)
        if node is None:
            return None, params, None
        route = node.routes.get(method)
        if route is None and method == "HEAD":
            route = node.routes.get("GET")
        return route, params, node

    def _match_template(self, path: str) -> tuple[_Node | None, dict[str, str]]:
        parts = path.strip("/").split("/")
        for segments, node in self._templated.get(len(parts), ()):
            params: dict[str, str] = {}
            for want, got in zip(segments, parts, strict=True):
                if want[0] == "{":
                    if not got:
                        break
                    params[want[1:-1]] = unquote(got)
                elif want != got:
                    break
            else:
                return node, params
        return None, {}

    def dispatch(self, request: Request) -> HandlerResult:
        """Find the handler and run it; 404/405/415 are answered here."""
        route, params, node = self.resolve(request.method, request.path)
        if route is None:
            if node is None:
                return error_response(404, "NOT_FOUND", f"no route for {request.path}")
            allow = ", ".join(sorted(node.routes))
            return error_response(
                405,
                "METHOD_NOT_ALLOWED",
                f"{request.method} is not allowed on {request.path}; allowed: {allow}",
                headers=((b"allow", allow.encode()),),
            )
        if route.json_body and not _is_json(request):
            return error_response(
                415,
                "UNSUPPORTED_MEDIA_TYPE",
                "send the body as application/json",
                received=(request.headers.get(b"content-type") or b"").decode("latin-1"),
            )
        request.params = params
        return route.handler(request)


def _is_json(request: Request) -> bool:
    return is_json_body(request.headers, request.body)


def is_json_body(headers: dict[bytes, bytes], body: bytes) -> bool:
    """What a `json_body` route accepts (else 415): a JSON media type, or no body and no type."""
    content_type = headers.get(b"content-type")
    if content_type is None:
        return not body  # no body, no type: the handler decides what is missing
    if content_type == b"application/json":
        return True  # what clients send; the general rule below costs a few allocations
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or media.endswith(b"+json")


def text_response(status: int, text: str) -> Response:
    return Response(status, text.encode(), content_type=b"text/plain; charset=utf-8")
