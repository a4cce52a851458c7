"""Plain async services: no Reflex imports, every access checked here."""
