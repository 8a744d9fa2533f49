"""The ``slabpolicy`` command line (Typer).

``app`` holds the core commands (validate, run, compare, report, plot,
policies, geometry); each further module of this package adds the commands of
one area to the same ``app`` when imported below.
"""
from slabpolicy.cli.app import app
from slabpolicy.cli import sweep  # noqa: F401  (adds the sweep command)
from slabpolicy.cli import traces  # noqa: F401  (record, trace stats, replay-check)
from slabpolicy.cli import costs  # noqa: F401  (costs)
from slabpolicy.cli import metrics  # noqa: F401  (metrics)
from slabpolicy.cli import export  # noqa: F401  (export)
from slabpolicy.cli import guide  # noqa: F401  (--version, schema, experiments; help texts)

__all__ = ["app"]
