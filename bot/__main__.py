"""`python -m bot` runs the `sigap` command line."""

import sys

from bot.cli import main

if __name__ == "__main__":  # not when a worker process (`bot.workers`, started by spawn) imports this module
    sys.exit(main())
