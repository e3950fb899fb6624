"""Conveyor's models layer: the domain, importable as `shared` in every function."""
