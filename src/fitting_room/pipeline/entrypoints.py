"""Where the Prefect flows live, as Prefect names them (``file:function``, from the project root).

``flows/deploy.py`` registers deployments of these and the drift flow loads the training flow
from its entrypoint, so flows find each other the way a Prefect worker does, by path, without
editing the import path; ``prefect.yaml`` names the same entrypoints (tests/ops checks them).
"""

from __future__ import annotations

TRAINING_ENTRYPOINT = "flows/training_pipeline.py:training_pipeline"
DRIFT_ENTRYPOINT = "flows/drift_check.py:drift_check"
