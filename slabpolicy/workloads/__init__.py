"""Workloads: the YAML schema and its loader (spec), lifetime and arrival
distributions (distributions), and the units people write (units).
"""
