"""The MTM's architecture, pretraining mix and phase schedule, and the presets that size it."""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass
class MTMConfig:
    """Architecture (nanoGPT-style blocks), which targets are tokens, the pretraining mask mix, and
    the epochs and learning rates of its phases. The defaults are the `gpu` preset's: one GPU and
    full Numerai data (the sizes of the design note)."""

    d_model: int = 128
    n_heads: int = 4
    n_encoder_layers: int = 4
    n_decoder_layers: int = 2
    dropout: float = 0.1
    """Width, heads and dropout of every block; the encoder's blocks read the visible tokens, the
    decoder's every token (a hidden one as its modality's mask token)."""
    target_tokens: str = "20d"
    """Target tokens: "all", "20d" (main + 20-day auxiliary targets) or "main"; auxiliary
    columns identical to the main target are dropped."""
    predict_probability: float = 0.75
    """Share of labeled pretraining batches under the PREDICT mask (the rest RANDOM)."""
    pretrain_epochs: int = 8
    finetune_epochs: int = 4
    scratch_epochs: int = 12
    """Supervised epochs of the same network without pretraining (`mtm_no_pretrain`), about the
    compute of pretraining + finetuning."""
    unlabeled_batch_rows: int = 4096
    """Rows per pretraining batch of rows without targets (labeled rows come in whole eras)."""
    pretrain_lr: float = 1e-3
    finetune_lr: float = 2e-4
    scratch_lr: float = 1e-3

    @classmethod
    def gpu(cls) -> MTMConfig:
        """One GPU, full Numerai data: the defaults."""
        return cls()

    @classmethod
    def cpu_demo(cls) -> MTMConfig:
        """Sized for 2 CPU cores and the demo data within `make run`'s time: a narrow network,
        one pretraining epoch under PREDICT masks only, two supervised epochs."""
        return cls(
            d_model=16,
            n_heads=2,
            n_encoder_layers=2,
            n_decoder_layers=1,
            dropout=0.0,
            predict_probability=1.0,
            pretrain_epochs=1,
            finetune_epochs=2,
            scratch_epochs=3,
            unlabeled_batch_rows=1024,
            pretrain_lr=5e-3,
            finetune_lr=2e-3,
            scratch_lr=2e-3,
        )

    @classmethod
    def tiny(cls) -> MTMConfig:
        """For tests: `cpu_demo` with one encoder block, every target a token, two epochs per
        phase."""
        return replace(
            cls.cpu_demo(),
            n_encoder_layers=1,
            target_tokens="all",
            pretrain_epochs=2,
            scratch_epochs=2,
            unlabeled_batch_rows=128,
        )
