"""`python -m bench`: every benchmark, then docs/PERFORMANCE.md (see bench/run.py)."""

import sys

from bench.run import main

sys.exit(main())
