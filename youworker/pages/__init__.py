"""Page functions."""
