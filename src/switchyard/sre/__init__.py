"""The SRE toolchain: load generation, canary, SLO and performance gates, tuning advice,
cost and data-loss guards, change risk and runbook triage.

Owns the logic behind `switchyard bench|canary|gate|perf-gate|tune|cost-guard|dlp|
change-risk|triage`; the `cli/cmd_*.py` modules only parse flags and call in here. These tools
talk to the gateway from outside, through its public HTTP API (DESIGN.md §3), and never reach
into the gateway's internals. Must not import `switchyard.testing`.

Clocks and randomness are passed in by the CLI layer (ruff bans them here): wall time arrives
as epoch nanoseconds, monotonic time comes from `time.perf_counter_ns` (latency only), and a
seeded `Rng` drives every random choice so a run can be repeated.
"""
