"""Language-model backends behind one interface: Ollama and the bundled embedded model."""
