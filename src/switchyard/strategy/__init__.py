"""L4: the strategy auto-trader (issue 6): signal, trader, runner, config store and API.

Pure parts: signal.py (the math), trader.py and decisions.py (what a tick decides),
config.py (fields and validation). Edges: port.py (the order path), runner.py (the loop
timer), service.py + store.py + db.py (the config database, on its own thread), api.py
(HTTP), metrics.py. component.py assembles them; extensions/strategy.py installs them.
"""

from .component import Strategy
from .config import StrategyConfig, Venue
from .settings import StrategySettings

__all__ = ["Strategy", "StrategyConfig", "StrategySettings", "Venue"]
