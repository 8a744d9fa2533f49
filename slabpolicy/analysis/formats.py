"""The formats a comparison table is rendered in (``--format`` of compare, report, sweep).

A module of its own, so that compare and sweep refuse a bad ``--format`` before
anything runs without importing the table's statistics: :mod:`slabpolicy.analysis.stats`
imports numpy and scipy.stats, about 0.8 s of a command's start-up on this
project's machine, which compare now spends while its workers run instead.
"""
FORMATS = ("plain", "github", "latex", "html", "csv", "json")
