"""`python -m medhub.bench [options]`: the same as `python -m medhub bench [options]`."""

import sys

from medhub.bench import main

sys.exit(main(sys.argv[1:]))
