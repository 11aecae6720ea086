"""``python -m worker.commands ...`` is the ``t2i`` command (the worker process itself is
``python -m worker``)."""

import sys

from worker.commands import main

sys.exit(main())
