"""ideaengine: the domain, its storage and the composition root of the idea-ranking service."""

__version__ = "0.1.0"
