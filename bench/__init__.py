"""The benchmark suite (`make bench`): figures next to their goals, ratios measured in the same run.

See docs/bench.md for what each measurement does and how to read it.
"""
