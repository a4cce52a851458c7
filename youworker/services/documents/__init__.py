"""Documents: parsing, chunking, embedding and retrieval (no Reflex imports)."""
