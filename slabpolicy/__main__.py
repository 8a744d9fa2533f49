"""``python -m slabpolicy``: the command line, as the ``slabpolicy`` script runs it."""
from slabpolicy.cli import app

if __name__ == "__main__":
    app(prog_name="slabpolicy")
