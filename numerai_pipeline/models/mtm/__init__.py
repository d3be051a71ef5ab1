"""The Masked Trajectory Model (Wu et al., ICML 2023) over the tokens of a Numerai row:
`config`, `tokenizers`, `masks`, `network`, `objective`, and `model` (the fitted model)."""
