"""MLflow models-from-code scripts: `log_model` stores the script, not a pickled object."""
