"""Pipeline plumbing shared by the CLI, dvc.yaml and the Prefect flow: configure, run stages,
the flows' entrypoints, and the ``evaluate_gan`` stage (which uses both ``gan`` and ``evaluation``)."""
