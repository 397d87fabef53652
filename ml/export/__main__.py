"""``python -m ml.export RUN_DIR --task T --out DIR`` (the same as ``python -m ml export``)."""

from __future__ import annotations

import sys

from ml.export.cli import main

if __name__ == "__main__":
    sys.exit(main())
