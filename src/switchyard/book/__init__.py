"""L1 matching engine: price-time priority books of every symbol and their market data. Pure."""

from .engine import MatchingEngine
from .order_book import BookOrder, OrderBook, OrderRegistry
from .spec import DEFAULT_SPECS, SymbolSpec, parse_symbol_spec, parse_symbol_specs

__all__ = [
    "DEFAULT_SPECS",
    "BookOrder",
    "MatchingEngine",
    "OrderBook",
    "OrderRegistry",
    "SymbolSpec",
    "parse_symbol_spec",
    "parse_symbol_specs",
]
