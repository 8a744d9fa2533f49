"""``python -m slabpolicy``: the command line, as the ``slabpolicy`` script runs it."""
from slabpolicy.cli.main import main

if __name__ == "__main__":
    main()
