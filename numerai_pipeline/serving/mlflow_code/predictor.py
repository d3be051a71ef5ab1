"""The MLflow model of a saved predictor (a fitted model or the champion): its artifact is the
folder `models.saved` or `Champion.save` wrote."""

from mlflow.models import set_model

from numerai_pipeline.serving.pyfunc import PredictorPyfunc

set_model(PredictorPyfunc())
