"""Forwarding stub: the speed test-set builder moved to dflab.train.speed_testset.

Only dflab.audio.antispoof.collect_corpus (training code still inside a runtime module) imports this name from
here. Delete this file once collect_corpus lives under dflab/train/ and imports it from dflab.train.speed_testset;
tests/test_layering.py allow-lists both edges until then.
"""

from dflab.train.speed_testset import LIVEPORTRAIT_WITH_SPEECH

__all__ = ["LIVEPORTRAIT_WITH_SPEECH"]
