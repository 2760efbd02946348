"""`python -m medhub.studies.bench [options]`: the same as `python -m medhub bench [options]`."""

import sys

from medhub.studies.bench import main

sys.exit(main(sys.argv[1:]))
