"""Where neural training runs: CUDA when available (bf16 autocast, pinned memory), else CPU."""

from __future__ import annotations

from dataclasses import replace

from dagster import ConfigurableResource

PRESETS = ("auto", "gpu", "cpu_demo", "tiny")


class ComputeResource(ConfigurableResource):
    """Device and model-size preset for the GPU-tagged training assets.

    `device`: "auto" (cuda if available), "cuda" or "cpu". `preset`: "auto" (gpu on CUDA,
    cpu_demo on CPU), or a named `MTMConfig` preset. `seed`: of the neural models (the MTM, its
    ablation and the MLP), for seed sweeps. `torch_threads`: 0 keeps torch's default.
    """

    device: str = "auto"
    preset: str = "auto"
    seed: int = 0
    torch_threads: int = 0

    def torch_device(self) -> str:
        import torch

        from numerai_pipeline.models.neural import select_device

        if self.torch_threads:
            torch.set_num_threads(self.torch_threads)
        return str(select_device(None if self.device == "auto" else self.device))

    def mtm_config(self, device: str):
        """The MTM configuration for this device and preset."""
        from numerai_pipeline.models.mtm import MTMConfig

        if self.preset not in PRESETS:
            raise ValueError(f"unknown compute preset {self.preset!r}; choose one of {PRESETS}")
        name = self.preset
        if name == "auto":
            name = "gpu" if device.startswith("cuda") else "cpu_demo"
        return replace(getattr(MTMConfig, name)(), seed=self.seed)

    def mlp_config(self, device: str):
        """The MLP configuration for this preset (small for `tiny`); it picks its epoch on the
        same inner eras as this device's MTM (`selection_era_stride`)."""
        from numerai_pipeline.models.mlp import MLPConfig

        stride = self.mtm_config(device).selection_era_stride
        if self.preset == "tiny":
            return MLPConfig(hidden=(16,), epochs=2, selection_era_stride=stride, seed=self.seed)
        return MLPConfig(selection_era_stride=stride, seed=self.seed)
