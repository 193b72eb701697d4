"""Pipeline plumbing shared by the CLI, dvc.yaml and the Prefect flow: configure, run stages."""
