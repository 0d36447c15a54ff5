"""signoff's benchmarks: speed and scale against the product's limits and against peers.

    python -m benchmarks [--size tiny|full] [--only NAME] [--json PATH]

See docs/benchmarks.md for the scenarios, the latest figures and how to reproduce them.
"""
