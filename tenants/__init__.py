"""Bureaus (tenants): the tree, its units, and the scoping of every tenant-owned query."""
