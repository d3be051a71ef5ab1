"""The MLflow model of an XGBoost fit: its artifacts hold the booster and the feature names."""

from mlflow.models import set_model

from numerai_pipeline.models.pyfunc import XGBoostPyfunc

set_model(XGBoostPyfunc())
