"""Operations: run lock, drift checks, lineage, rollbacks and fault handling around the pipeline."""
