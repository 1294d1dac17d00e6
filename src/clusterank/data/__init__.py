"""Corpora and queries: the role taxonomy, the bundled generator and its word lists, loaders and writers."""
