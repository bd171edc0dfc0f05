"""HTML reports: one writer per experiment kind (mask.py, elastic.py) over shared figures, page and files."""
