"""The published MesoNet models as `dflab eval --baseline` scorers (the network lives in detect/learned/mesonet).

"mesonet" is Meso4 trained on deepfakes (the authors' headline model), "mesoinception" MesoInception4 on
deepfakes; the Face2Face variants are available through `MesoNetScorer` directly. Registering here, on the
eval side, keeps the runtime package free of any import of eval/.
"""

from __future__ import annotations

from dflab.detect.learned.mesonet import MesoNetScorer
from dflab.eval.baselines import register_baseline

register_baseline("mesonet", MesoNetScorer("meso4_df"))
register_baseline("mesoinception", MesoNetScorer("mesoinception_df"))
