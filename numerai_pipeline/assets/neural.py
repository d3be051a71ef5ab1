"""[models] GPU-tagged neural assets per CV fold: MTM pretraining, MTM heads, neural baselines."""

from pathlib import Path

import pandas as pd
from dagster import AssetExecutionContext, MetadataValue, Output, asset

from numerai_pipeline.assets.partitions import cv_fold_partitions
from numerai_pipeline.evaluation.cv import EraPlan
from numerai_pipeline.evaluation.oof import fold_predictions, oof_frame, split_fold
from numerai_pipeline.features.engineering import (
    FeatureMatrix,
    load_training_data,
    load_unlabeled_features,
)
from numerai_pipeline.resources.compute import ComputeResource
from numerai_pipeline.resources.home import HomeResource
from numerai_pipeline.resources.mlflow_tracking import MlflowTracking

GPU_OP_TAGS = {
    "dagster-k8s/config": {
        "container_config": {
            "resources": {"requests": {"nvidia.com/gpu": "1"}, "limits": {"nvidia.com/gpu": "1"}}
        }
    }
}
GPU_ASSET = {
    "group_name": "models",
    "partitions_def": cv_fold_partitions,
    "pool": "gpu",
    "op_tags": GPU_OP_TAGS,
    "kinds": {"pytorch"},
}
REGISTERED_MTM = "numerai-mtm"


def _progress(context: AssetExecutionContext, name: str):
    return lambda message: context.log.info(f"{name} {context.partition_key}: {message}")


@asset(**GPU_ASSET)
def mtm_encoder(
    context: AssetExecutionContext,
    compute: ComputeResource,
    home: HomeResource,
    mlflow_tracking: MlflowTracking,
    feature_matrix: FeatureMatrix,
    era_index: EraPlan,
) -> Output[dict[str, str]]:
    """MTM pretrained by masked modelling on the fold's training eras plus unlabeled rows."""
    from numerai_pipeline.models.mtm_training import MTMModel
    from numerai_pipeline.models.pyfunc import save_neural_model

    fold = era_index.fold(context.partition_key)
    device = compute.torch_device()
    config = compute.mtm_config(device)
    folder = home.paths.checkpoints / "mtm" / fold.name
    data = load_training_data(feature_matrix, fold.train_eras)
    unlabeled = load_unlabeled_features(feature_matrix)
    paths, history = {}, []
    with mlflow_tracking.start_run(context, f"mtm_encoder-{fold.name}", {"model": "mtm"}) as run:
        for fit in ("selection", "refit") if config.refit else ("selection",):
            model = MTMModel(
                config, checkpoint_dir=folder, seed_groups=feature_matrix.groups, device=device
            )
            model.all_eras = fit == "refit"
            model.pretrain(data, _progress(context, f"mtm pretraining ({fit})"), unlabeled)
            paths[fit] = str(save_neural_model(model, folder / f"encoder-{fit}.pt"))
            history += model.history
        mlflow_tracking.log_history(model.params(), history)
    return Output(
        paths,
        metadata={
            "device": device,
            "train_eras": len(fold.train_eras),
            "unlabeled_rows": len(unlabeled),
            "tokens": MetadataValue.md(
                "\n".join(f"- **{g}**: {len(m)} features" for g, m in model.groups.items())
            ),
            "u_shaped_features": ", ".join(model.u_features) or "none",
            "skip_features": f"{len(model.skip_features())} of {len(model.feature_names)}",
            "resumed_from": str(model.resumed_from),
            "mlflow_run": run.info.run_id,
        },
    )


@asset(**GPU_ASSET)
def mtm_heads(
    context: AssetExecutionContext,
    compute: ComputeResource,
    mlflow_tracking: MlflowTracking,
    feature_matrix: FeatureMatrix,
    era_index: EraPlan,
    mtm_encoder: dict[str, str],
) -> Output[dict[str, pd.DataFrame]]:
    """Main and auxiliary target heads finetuned on the fold and its out-of-fold predictions."""
    from numerai_pipeline.models.pyfunc import load_neural_model, log_neural_model

    fold = era_index.fold(context.partition_key)
    device = compute.torch_device()
    model = load_neural_model(Path(mtm_encoder["selection"]), device=device)
    model.checkpoint_dir = Path(mtm_encoder["selection"]).parent
    train, test = split_fold(
        load_training_data(feature_matrix, fold.train_eras + fold.test_eras), fold
    )
    last_fold = fold.index == len(era_index.folds)
    with mlflow_tracking.start_run(context, f"mtm-{fold.name}", {"model": "mtm"}) as run:
        model.finetune(train, _progress(context, "mtm finetuning"))
        if "refit" in mtm_encoder:
            pretrained = load_neural_model(Path(mtm_encoder["refit"]), device=device)
            model.refit(train, _progress(context, "mtm refit"), pretrained=pretrained)
        oof = oof_frame(test, model.predict(test.features, test.eras))
        mlflow_tracking.log_history(model.params(), model.history)
        log_neural_model(
            model, "model", registered_model_name=REGISTERED_MTM if last_fold else None
        )
    return Output(
        {"mtm": oof},
        metadata={
            "selected": str(model.selected),
            "device": str(model.device),
            "mlflow_run": run.info.run_id,
        },
    )


@asset(**GPU_ASSET)
def neural_baselines(
    context: AssetExecutionContext,
    compute: ComputeResource,
    mlflow_tracking: MlflowTracking,
    feature_matrix: FeatureMatrix,
    era_index: EraPlan,
) -> Output[dict[str, pd.DataFrame]]:
    """Ablations for the fold: the MTM network trained from scratch, and an MLP on ordinal features."""
    from numerai_pipeline.models.mlp import MLPModel
    from numerai_pipeline.models.mtm_training import MTMModel

    fold = era_index.fold(context.partition_key)
    device = compute.torch_device()
    data = load_training_data(feature_matrix, fold.train_eras + fold.test_eras)
    models = [
        MTMModel(
            compute.mtm_config(device),
            pretrain=False,
            seed_groups=feature_matrix.groups,
            device=device,
        ),
        MLPModel(compute.mlp_config(device), device=device),
    ]
    out, metadata = {}, {"device": device}
    for model in models:
        with mlflow_tracking.start_run(context, f"{model.name}-{fold.name}", {"model": model.name}):
            out[model.name] = fold_predictions(model, data, fold, _progress(context, model.name))
            mlflow_tracking.log_history(model.params(), model.history)
        metadata[f"{model.name}_selected"] = str(getattr(model, "selected", ""))
    return Output(out, metadata=metadata)
