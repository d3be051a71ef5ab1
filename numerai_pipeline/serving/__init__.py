"""Serving fitted models: MLflow pyfunc packaging and Numerai's hosted model-upload export."""
