"""Built-in adapters, one package per provider; each imports its client library lazily."""
