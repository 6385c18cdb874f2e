"""L0: the domain vocabulary shared by every layer. No I/O, no clocks, no randomness."""
