"""[cv] Out-of-fold predictions of every model in the roster, one asset per model and CV fold; the
MTM's masked pretraining runs as its own step before its heads."""

from pathlib import Path

from dagster import AssetExecutionContext, AssetIn, AssetsDefinition, Config, Output, asset

from numerai_pipeline.assets import CODE_VERSION
from numerai_pipeline.assets.partitions import cv_fold_partitions
from numerai_pipeline.core.folds import EraPlan
from numerai_pipeline.core.scoring import per_era_corr
from numerai_pipeline.evaluation.oof import FoldPredictions, fold_predictions
from numerai_pipeline.features.engineering import (
    FeatureMatrix,
    load_training_data,
    load_unlabeled_features,
)
from numerai_pipeline.features.era_context import EraContext
from numerai_pipeline.models.roster import ROSTER, SPECS, ModelInputs, ModelSpec
from numerai_pipeline.resources.compute import ComputeResource
from numerai_pipeline.resources.home import HomeResource
from numerai_pipeline.resources.mlflow_tracking import MlflowTracking

GPU_STEP = {
    "pool": "gpu",
    "op_tags": {
        "dagster-k8s/config": {
            "container_config": {
                "resources": {
                    "requests": {"nvidia.com/gpu": "1"},
                    "limits": {"nvidia.com/gpu": "1"},
                }
            },
            "pod_spec_config": {
                "tolerations": [
                    {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
                ]
            },
        }
    },
}
"""Neural steps: one at a time per GPU (pool `gpu`), and under the k8s executor a pod that
requests a GPU and tolerates GPU nodes' usual `nvidia.com/gpu` taint."""


class ModelConfig(Config):
    """Trees of each XGBoost fit (the neural models' sizes come from the compute preset)."""

    xgboost_trees: int = 300


def progress(context: AssetExecutionContext, name: str):
    """A progress sink that logs to the step's Dagster log."""
    where = f" {context.partition_key}" if context.has_partition_key else ""
    return lambda message: context.log.info(f"{name}{where}: {message}")


def model_inputs(
    spec: ModelSpec,
    compute: ComputeResource,
    config: ModelConfig,
    feature_matrix: FeatureMatrix,
    checkpoints: Path,
    era_context: EraContext | None = None,
) -> ModelInputs:
    """What `spec.make` needs: presets for this device, checkpoints, and the inputs it reads."""
    device = compute.torch_device() if spec.neural else "cpu"
    unlabeled = load_unlabeled_features(feature_matrix) if "unlabeled" in spec.needs else None
    return ModelInputs(
        preset=compute.neural_preset(device),
        device=device,
        xgboost_trees=config.xgboost_trees,
        checkpoint_dir=checkpoints,
        seed_groups=feature_matrix.groups,
        unlabeled=unlabeled,
        era_context=era_context,
    )


def _ins(spec: ModelSpec) -> dict[str, AssetIn]:
    ins = {"feature_matrix": AssetIn(), "era_index": AssetIn()}
    if "era_context" in spec.needs:
        ins["era_context"] = AssetIn()
    if spec.name == "mtm":
        ins["mtm_encoder"] = AssetIn(key=["cv", "mtm_encoder"])
    return ins


def cv_model_asset(spec: ModelSpec) -> AssetsDefinition:
    """The per-fold asset of one roster model."""

    @asset(
        code_version=CODE_VERSION,
        key=["cv", spec.name],
        ins=_ins(spec),
        group_name="cv",
        partitions_def=cv_fold_partitions,
        description=spec.description,
        kinds={"pytorch"} if spec.neural else {"python"},
        **(GPU_STEP if spec.neural else {}),
    )
    def cv_model(
        context: AssetExecutionContext,
        config: ModelConfig,
        compute: ComputeResource,
        home: HomeResource,
        mlflow_tracking: MlflowTracking,
        feature_matrix: FeatureMatrix,
        era_index: EraPlan,
        **upstream,
    ) -> Output[FoldPredictions]:
        fold = era_index.fold(context.partition_key)
        context.log.info(f"{fold.describe()} ({fold.index}/{len(era_index.folds)})")
        data = load_training_data(feature_matrix, fold.train_eras + fold.test_eras)
        checkpoints = home.paths.checkpoints / spec.name / fold.name
        inputs = model_inputs(
            spec, compute, config, feature_matrix, checkpoints, upstream.get("era_context")
        )
        model = spec.make(inputs)
        with mlflow_tracking.start_run(
            context, f"{spec.name}-{fold.name}", {"model": spec.name}
        ) as run:
            result = fold_predictions(
                model, data, fold, progress(context, spec.name), spec.shuffled_targets
            )
            frame = result.predictions
            corr = per_era_corr(
                frame["prediction"].to_numpy(), frame["target"].to_numpy(), frame["era"].to_numpy()
            )
            mlflow_tracking.log_fit(
                model.params(), {"corr_mean": corr.mean()}, getattr(model, "history", [])
            )
        return Output(
            result,
            metadata={
                "corr_mean": float(corr.mean()),
                "schedule": str(result.schedule or "fixed"),
                "resumed_from": str(getattr(model, "resumed_from", None)),
                "mlflow_run": run.info.run_id,
            },
        )

    return cv_model


@asset(
    code_version=CODE_VERSION,
    key=["cv", "mtm_encoder"],
    group_name="cv",
    partitions_def=cv_fold_partitions,
    kinds={"pytorch"},
    **GPU_STEP,
)
def mtm_encoder(
    context: AssetExecutionContext,
    config: ModelConfig,
    compute: ComputeResource,
    home: HomeResource,
    mlflow_tracking: MlflowTracking,
    feature_matrix: FeatureMatrix,
    era_index: EraPlan,
) -> Output[str]:
    """The MTM pretrained by masked modelling on the fold's training eras and the rows without targets."""
    fold = era_index.fold(context.partition_key)
    spec = SPECS["mtm"]
    checkpoints = home.paths.checkpoints / spec.name / fold.name
    model = spec.make(model_inputs(spec, compute, config, feature_matrix, checkpoints))
    data = load_training_data(feature_matrix, fold.train_eras)
    with mlflow_tracking.start_run(context, f"mtm_encoder-{fold.name}", {"model": "mtm"}) as run:
        model.fit(data, progress(context, "mtm pretraining"), stop_before="finetune")
        mlflow_tracking.log_fit(model.params(), {}, model.history)
    return Output(
        str(checkpoints),
        metadata={
            "device": str(model.device),
            "train_eras": len(fold.train_eras),
            "unlabeled_rows": len(model.unlabeled) if model.unlabeled is not None else 0,
            "tokens": f"{len(model.groups)} feature groups, {len(model.tokens)} targets",
            "linear_readout_features": f"{len(model.screen.linear)} of {len(model.feature_names)}",
            "u_shaped_features": ", ".join(model.screen.u_shaped) or "none",
            "resumed_from": str(model.resumed_from),
            "mlflow_run": run.info.run_id,
        },
    )


CV_ASSETS = [mtm_encoder, *(cv_model_asset(spec) for spec in ROSTER)]
