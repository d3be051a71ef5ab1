-- Run once by the postgres image on an empty volume, as POSTGRES_USER in the `dagster` database:
-- MLflow's backend store gets a database of its own (both name tables `runs`).
CREATE DATABASE mlflow;
