-- compose.yaml: the two databases of the stack (PostgreSQL's image runs this once, on an empty volume)
CREATE DATABASE mlflow;
CREATE DATABASE prefect;
