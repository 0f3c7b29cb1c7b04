"""Curation: corpus records labeled, embedded, classified and filtered for educational value (PAPER.md §1)."""
