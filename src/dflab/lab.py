"""The lab: the stores, keys and blob directory built once from configuration and passed to every verb.

    from dflab.lab import Lab
    with Lab.default() as lab:      # $DFLAB_HOME (dflab.config.LabConfig.from_env)
        ...
    lab = Lab.memory()              # everything in memory, for tests

The class lives in dflab/provenance/lab.py, beside the stores it builds (so provenance code can open the default
lab without importing upwards); this module is its public name. See docs/stores.md.
"""

from dflab.config import LabConfig
from dflab.provenance.lab import Lab, lab_scope

__all__ = ["Lab", "LabConfig", "lab_scope"]
