"""sparsearch: search, train and benchmark sparse sub-networks of over-parameterized networks."""

__version__ = "0.1.0"
