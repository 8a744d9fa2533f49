"""Analysis of results: statistics over seeds (stats), comparison tables
(report) and plots (plots).
"""
