"""The benchmark suite: wires environments, models and agents together and measures them."""
