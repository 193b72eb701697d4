"""Generator evaluation: the domain classifier, the metric registry, and the quality-gated stage."""
