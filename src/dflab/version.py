"""The package version, importable without the public facade (dflab/__init__ imports the whole library;
runtime modules such as provenance.manifest, which writes it into C2PA claims, must not import that)."""

__version__ = "0.1.0"
