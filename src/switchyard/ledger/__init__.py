"""L1: double-entry postings and position / average cost / realized PnL math. Pure integers."""

from .positions import FillEffect, FillTerms, Position, apply_fill, fold_fills, signed_qty
from .postings import (
    BOOK_CASH,
    BOOK_FEES,
    MARKET_ACCOUNT,
    Entry,
    Posting,
    adjustment_entry,
    asset_lots,
    book_cost,
    book_pnl,
    book_position,
    fee_for,
    fill_entry,
    is_balanced,
)

__all__ = [
    "BOOK_CASH",
    "BOOK_FEES",
    "MARKET_ACCOUNT",
    "Entry",
    "FillEffect",
    "FillTerms",
    "Position",
    "Posting",
    "adjustment_entry",
    "apply_fill",
    "asset_lots",
    "book_cost",
    "book_pnl",
    "book_position",
    "fee_for",
    "fill_entry",
    "fold_fills",
    "is_balanced",
    "signed_qty",
]
