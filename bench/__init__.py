"""Benchmarks of YouWorker against the targets of issue 3 (`python -m bench`)."""
