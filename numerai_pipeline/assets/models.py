"""[models] Final fits of every candidate on all used labeled eras with the schedule CV chose, the
champion: the selected combination registered in MLflow as one pyfunc with alias `champion`, and
the champion as Numerai's hosted model-upload pickle."""

import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from dagster import AssetExecutionContext, AssetIn, AssetsDefinition, MetadataValue, Output, asset

from numerai_pipeline.assets import CODE_VERSION
from numerai_pipeline.assets.cv import GPU_STEP, ModelConfig, model_inputs, progress
from numerai_pipeline.core.folds import EraPlan
from numerai_pipeline.data.sources import DatasetFiles
from numerai_pipeline.ensemble.champion import Champion
from numerai_pipeline.ensemble.selection import EnsembleSelection
from numerai_pipeline.evaluation.oof import FoldPredictions, consensus_schedule
from numerai_pipeline.features.engineering import FeatureMatrix, load_training_data
from numerai_pipeline.models.roster import CANDIDATES, SPECS, ModelSpec
from numerai_pipeline.models.saved import load_model, save_model
from numerai_pipeline.resources.compute import ComputeResource
from numerai_pipeline.resources.home import HomeResource
from numerai_pipeline.resources.mlflow_tracking import MlflowTracking
from numerai_pipeline.resources.numerai import NumeraiResource

CHAMPION_MODEL = "numerai-champion"
"""The registered model whose alias `champion` is what live predictions serve."""


@dataclass(frozen=True)
class FinalFit:
    """A fitted candidate on disk and its registered MLflow model version."""

    name: str
    folder: str
    registered_model: str
    version: str


def final_fit_asset(spec: ModelSpec) -> AssetsDefinition:
    """The final fit of one candidate model."""
    ins = {"cv_results": AssetIn(key=["cv", spec.name])}
    if "era_context" in spec.needs:
        ins["era_context"] = AssetIn()

    @asset(
        code_version=CODE_VERSION,
        key=["final", spec.name],
        ins=ins,
        group_name="models",
        description=f"Final fit on all used eras, with the schedule CV chose: {spec.description}",
        kinds={"pytorch"} if spec.neural else {"python"},
        **(GPU_STEP if spec.neural else {}),
    )
    def final_fit(
        context: AssetExecutionContext,
        config: ModelConfig,
        compute: ComputeResource,
        home: HomeResource,
        mlflow_tracking: MlflowTracking,
        feature_matrix: FeatureMatrix,
        era_index: EraPlan,
        cv_results: dict[str, FoldPredictions],
        **upstream,
    ) -> Output[FinalFit]:
        from numerai_pipeline.serving.pyfunc import log_predictor

        schedule = consensus_schedule([result.schedule for result in cv_results.values()])
        checkpoints = home.paths.checkpoints / spec.name / "final"
        model = spec.make(
            model_inputs(
                spec, compute, config, feature_matrix, checkpoints, upstream.get("era_context")
            )
        )
        data = load_training_data(feature_matrix, era_index.eras)
        registered = f"numerai-{spec.name}"
        with mlflow_tracking.start_run(context, f"{spec.name}-final", {"model": spec.name}) as run:
            model.fit(data, progress(context, f"{spec.name} final fit"), schedule=schedule)
            folder = save_model(model, home.paths.models / spec.name)
            mlflow_tracking.log_fit(model.params(), {}, getattr(model, "history", []))
            info = log_predictor(folder, model.feature_names, registered_model_name=registered)
        fit = FinalFit(spec.name, str(folder), registered, str(info.registered_model_version))
        return Output(
            fit,
            metadata={
                "schedule": str(schedule or "fixed"),
                "train_eras": len(era_index.eras),
                "train_rows": len(data.features),
                "registered_model": f"{registered} v{fit.version}",
                "mlflow_run": run.info.run_id,
            },
        )

    return final_fit


FINAL_ASSETS = [final_fit_asset(SPECS[name]) for name in CANDIDATES]


@asset(
    code_version=CODE_VERSION,
    group_name="models",
    ins={name: AssetIn(key=["final", name]) for name in CANDIDATES},
    kinds={"mlflow"},
)
def champion(
    context: AssetExecutionContext,
    home: HomeResource,
    mlflow_tracking: MlflowTracking,
    feature_matrix: FeatureMatrix,
    ensemble: EnsembleSelection,
    **finals: FinalFit,
) -> Output[str]:
    """The selected combination as one MLflow pyfunc, registered with alias `champion`."""
    from numerai_pipeline.serving.pyfunc import log_predictor

    blend = ensemble.champion.blend
    members = [m for m, w in blend.weights.items() if w > 0]
    models = {m: load_model(finals[m].folder) for m in members}
    predictor = Champion(models, blend, feature_matrix.neutralizers)
    folder = predictor.save(home.paths.models / "champion")
    tags = {f"member.{m}": f"{finals[m].registered_model}/{finals[m].version}" for m in members}
    with mlflow_tracking.start_run(context, "champion", {"blend": blend.name, **tags}) as run:
        info = log_predictor(folder, predictor.feature_names)
        version = mlflow_tracking.register(info.model_uri, CHAMPION_MODEL, "champion", tags)
    uri = f"models:/{CHAMPION_MODEL}@champion"
    context.log.info(f"{uri} is version {version}: {blend.describe()}")
    return Output(
        uri,
        metadata={
            "blend": blend.describe(),
            "rule": ensemble.champion.reason,
            "members": MetadataValue.md(
                "\n".join(f"- {m}: {tags[f'member.{m}']}" for m in members)
            ),
            "version": version,
            "mlflow_run": run.info.run_id,
        },
    )


@asset(code_version=CODE_VERSION, group_name="models", kinds={"python"})
def model_upload(
    context: AssetExecutionContext,
    home: HomeResource,
    numerai: NumeraiResource,
    mlflow_tracking: MlflowTracking,
    numerai_dataset: DatasetFiles,
    feature_matrix: FeatureMatrix,
    champion: str,
) -> Output[str]:
    """The champion as Numerai's model-upload pickle, uploaded once per pickle when switched on."""
    from numerai_pipeline.serving.numerai_pickle import PICKLE_NAME, export_model_pickle
    from numerai_pipeline.submission.model_upload import upload_model_pickle

    with tempfile.TemporaryDirectory() as tmp:
        served = mlflow_tracking.download_model(champion, Path(tmp))
        folder = next(served.rglob("champion.json")).parent
        path = export_model_pickle(
            folder, feature_matrix.features, feature_matrix.groups, home.paths.models / PICKLE_NAME
        )
    python = "{}.{}".format(*sys.version_info[:2])
    metadata = {"pickle": MetadataValue.path(str(path)), "bytes": path.stat().st_size}
    metadata["python"] = python
    if numerai.model_upload and numerai_dataset.source == "synthetic":
        metadata["reason"] = "not uploaded: the champion was trained on synthetic data"
        context.log.warning(
            f"model upload is on, but {metadata['reason'].removeprefix('not uploaded: ')}"
        )
    elif numerai.model_upload:
        result = upload_model_pickle(
            numerai.client(),
            path,
            numerai.model_name,
            data_version=numerai_dataset.version,
            docker_image=numerai.model_upload_image,
            ledger_path=home.paths.submissions / "model_uploads.json",
        )
        context.log.info(f"model upload for {result.model_name}: {result.reason}")
        metadata.update({k: "" if v is None else str(v) for k, v in asdict(result).items()})
    return Output(str(path), metadata=metadata)
