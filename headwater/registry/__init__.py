"""The model registry: named models, their numbered versions, aliases and tags."""

__all__: list[str] = []
