"""The corpus stage: read documents from sources, reject what cannot be used, write a dataset directory."""
