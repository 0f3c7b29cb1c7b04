"""textbooks: the phi-1 recipe ("Textbooks Are All You Need") as a toolkit."""

__version__ = "0.1.0"
