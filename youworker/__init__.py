"""YouWorker: a self-hosted AI workspace."""
