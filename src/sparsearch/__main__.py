"""`python -m sparsearch` is the `sparsearch` command."""

from .cli import app

app(prog_name="sparsearch")
