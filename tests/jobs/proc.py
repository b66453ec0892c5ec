"""Run `cem worker ...` in a subprocess with the test tasks registered: python -m tests.jobs.proc worker --once"""

from __future__ import annotations

import tests.jobs.tasks  # noqa: F401  (registers the test tasks)
from cem.cli import main

if __name__ == "__main__":
    main()
