"""Search spaces: what a candidate may switch off, how to sample it and what it costs."""
