"""[models] Final model fits on every used labeled era, logged and registered in MLflow."""

from dagster import AssetExecutionContext, Config, Output, asset

from numerai_pipeline.evaluation.cv import EraPlan
from numerai_pipeline.features.engineering import FeatureMatrix, load_training_data
from numerai_pipeline.models.xgb import XGBoostConfig, XGBoostModel
from numerai_pipeline.resources.mlflow_tracking import MlflowTracking

REGISTERED_XGBOOST = "numerai-xgboost"


class XGBoostTrainConfig(Config):
    """Trees of the final XGBoost fit."""

    n_estimators: int = 300


@asset(group_name="models", kinds={"xgboost"})
def xgboost_model(
    context: AssetExecutionContext,
    config: XGBoostTrainConfig,
    mlflow_tracking: MlflowTracking,
    feature_matrix: FeatureMatrix,
    era_index: EraPlan,
) -> Output[XGBoostModel]:
    """XGBoost fit on all used labeled eras, registered in MLflow with alias `champion`."""
    from numerai_pipeline.models.pyfunc import log_xgboost_model

    data = load_training_data(feature_matrix, era_index.eras)
    model = XGBoostModel(XGBoostConfig(n_estimators=config.n_estimators))
    with mlflow_tracking.start_run(context, "xgboost-final", {"model": model.name}) as run:
        model.fit(data, lambda message: context.log.info(f"xgboost: {message}"))
        mlflow_tracking.log_fit(model.params(), {"n_train_eras": len(era_index.eras)})
        version = mlflow_tracking.register(log_xgboost_model(model).model_uri, REGISTERED_XGBOOST)
    return Output(
        model,
        metadata={
            "train_rows": len(data.features),
            "train_eras": len(era_index.eras),
            "features": len(data.feature_names),
            "mlflow_run": run.info.run_id,
            "registered_model": f"{REGISTERED_XGBOOST} v{version} @champion",
        },
    )
