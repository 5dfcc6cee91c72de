"""Training and development-set builders: the code that makes dflab's weights and test sets.

Modules here may import the runtime packages (media, faces, audio, detect, shallow, provenance, make, eval);
no runtime package imports them (tests/test_layering.py checks), so a scan never loads the code that built
its weights. Each builder keeps a `python -m dflab.train.NAME` entry point.
"""
