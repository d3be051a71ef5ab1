"""The MLflow model of a neural model (MTM, MLP): its artifact holds the weights."""

from mlflow.models import set_model

from numerai_pipeline.models.pyfunc import NeuralPyfunc

set_model(NeuralPyfunc())
