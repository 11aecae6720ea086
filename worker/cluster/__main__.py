"""``python -m worker.cluster`` = ``t2i cluster``."""

import sys

from worker.cluster.cli import main

if __name__ == "__main__":
    sys.exit(main())
