"""The curriculum teacher: a program that writes lessons and exercises, no LLM needed."""
