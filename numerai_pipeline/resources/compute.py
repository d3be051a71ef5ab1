"""Where neural training runs: CUDA when available (bf16 autocast, pinned memory), else CPU."""

from __future__ import annotations

from dagster import ConfigurableResource

PRESETS = ("auto", "gpu", "cpu_demo", "tiny")


class ComputeResource(ConfigurableResource):
    """Device and model-size preset for the GPU-tagged training assets.

    `device`: "auto" (cuda if available), "cuda" or "cpu". `preset`: "auto" (gpu on CUDA,
    cpu_demo on CPU), or a named `NeuralPreset`. `seed`: of the neural models, for seed sweeps.
    `torch_threads`: 0 keeps torch's default.
    """

    device: str = "auto"
    preset: str = "auto"
    seed: int = 0
    torch_threads: int = 0

    def torch_device(self) -> str:
        import torch

        from numerai_pipeline.models.device import select_device

        if self.torch_threads:
            torch.set_num_threads(self.torch_threads)
        return str(select_device(None if self.device == "auto" else self.device))

    def preset_name(self, device: str) -> str:
        """The preset in use on `device` ("auto" resolved); ValueError naming the choices."""
        if self.preset not in PRESETS:
            raise ValueError(
                f"unknown model preset {self.preset!r}: set NUMERAI_MODEL_PRESET to one of "
                f"{', '.join(PRESETS)}"
            )
        if self.preset == "auto":
            return "gpu" if device.startswith("cuda") else "cpu_demo"
        return self.preset

    def neural_preset(self, device: str):
        """The networks' configs for this device, preset and seed."""
        from numerai_pipeline.models.roster import NeuralPreset

        return NeuralPreset.named(self.preset_name(device), self.seed)
