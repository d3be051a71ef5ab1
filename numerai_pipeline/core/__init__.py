"""The leaf every package imports: Numerai's column conventions, era arithmetic, target facts (spans,
embargo), CV folds, the training-data type and per-era CORR. It imports no other package of ours."""
