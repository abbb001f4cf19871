"""Benchmarks (not tests): each script prints its numbers; RESULTS.md records them with the command."""
