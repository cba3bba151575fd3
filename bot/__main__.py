"""`python -m bot` runs the `sigap` command line."""

import sys

from bot.cli import main

sys.exit(main())
