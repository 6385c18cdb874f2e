"""Shared test set-up.

Fixtures live in tests/fixtures/*.py, one module per area, loaded here as plugins, so adding
fixtures never means editing this file. A test that needs a missing external service calls
`require_service()`: a skip with the reason on a laptop, a failure in CI
(`SWITCHYARD_REQUIRE_SERVICES=1`, set by .ci/run).
"""

from pathlib import Path

# `services` first: every other fixture module may import it at module level (a module
# imported before pytest registers it as a plugin cannot be assertion-rewritten).
pytest_plugins = ["tests.fixtures.services"] + sorted(
    f"tests.fixtures.{path.stem}"
    for path in (Path(__file__).parent / "fixtures").glob("*.py")
    if not path.stem.startswith("_") and path.stem != "services"
)
