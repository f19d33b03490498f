"""`python -m clients`: the command line (see `clients.cli`)."""

import sys

from .cli import main

if __name__ == '__main__':
    sys.exit(main())
