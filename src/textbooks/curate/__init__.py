"""Curation: corpus records labeled, embedded, classified and filtered for educational value (paper §2.1)."""
