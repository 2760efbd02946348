"""`python -m medhub ...`: see medhub/cli.py."""

import sys

from medhub.cli import main

sys.exit(main())
