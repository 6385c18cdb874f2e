"""HTTP/1.1 server for the gateway and the back office: uvloop + httptools + a small router."""

from .messages import (
    DEFERRED,
    EarlyCheck,
    HandlerResult,
    Request,
    Response,
    StreamResponse,
    error_response,
    json_response,
)
from .protocol import HTTPProtocol
from .router import Route, Router, is_json_body, text_response
from .server import HTTPLimits, HTTPServer, ServerState

__all__ = [
    "DEFERRED",
    "EarlyCheck",
    "HTTPLimits",
    "HTTPProtocol",
    "HTTPServer",
    "HandlerResult",
    "Request",
    "Response",
    "Route",
    "Router",
    "ServerState",
    "StreamResponse",
    "error_response",
    "is_json_body",
    "json_response",
    "text_response",
]
