"""The `mask` experiment kind: arms choose masks, trained as populations and compared paired by
seed (study.py runs it; kind.py is its `ExperimentKind`)."""
