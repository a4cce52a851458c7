"""Reflex state classes: thin wrappers that resolve the user and call services."""
