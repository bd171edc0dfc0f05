"""Parents as population modules: parameters stacked along a leading population axis."""
