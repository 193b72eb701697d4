"""MLflow tracking and lineage helpers (the edges where runs and tags are written)."""
