"""The ops tier imports its stack helpers and the pipeline tier's throwaway project builders."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))  # stack_helpers
sys.path.insert(0, str(HERE.parent / "pipeline"))  # project_builders
