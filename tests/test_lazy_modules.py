"""scipy.signal without scipy.stats (dflab.lazy_modules.scipy_signal): a scan's audio cues import the signal
functions they use, and the statistics package loads only when something reads from it."""

import subprocess
import sys
import textwrap


def _run(code: str) -> None:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]


def test_the_audio_cues_import_scipy_signal_without_scipy_stats():
    _run("""
        import sys
        import numpy as np
        from dflab.audio import band_edge, rate, spectral, stft_blocks  # noqa: F401
        from dflab.lazy_modules import DeferredModule, scipy_signal
        signal = scipy_signal()
        assert sys.modules["scipy.signal"] is signal and signal.find_peaks is rate.find_peaks
        assert isinstance(sys.modules["scipy.stats"], DeferredModule), "scipy.stats was imported"
        peaks, _ = signal.find_peaks(np.array([0.0, 2.0, 0.0, 3.0, 0.0]))
        assert peaks.tolist() == [1, 3]
    """)


def test_scipy_stats_still_works_once_deferred():
    _run("""
        import sys
        import numpy as np
        from dflab.lazy_modules import DeferredModule, scipy_signal
        signal = scipy_signal()
        # find_peaks_cwt is the one scipy.signal function that reads scipy.stats: it loads it, with the same answer
        x = np.sin(np.linspace(0, 20, 400))
        assert signal.find_peaks_cwt(x, np.arange(5, 20)).tolist() == [32, 157, 283, 395]
        assert not isinstance(sys.modules["scipy.stats"], DeferredModule)
        from scipy.stats import rankdata
        assert rankdata([3, 1, 2]).tolist() == [3.0, 1.0, 2.0]
    """)


def test_a_later_import_of_scipy_stats_gets_the_real_module():
    _run("""
        from dflab.lazy_modules import DeferredModule, scipy_signal
        scipy_signal()
        import scipy.stats
        assert abs(scipy.stats.norm.cdf(0.0) - 0.5) < 1e-12  # the first read loads the real module
        import sys
        assert not isinstance(sys.modules["scipy.stats"], DeferredModule)
    """)


def test_threads_that_first_import_it_together_all_get_the_whole_module():
    # A cue thread must never see scipy.signal half-initialised while another thread is still importing it.
    _run("""
        import threading
        from dflab.lazy_modules import scipy_signal
        found, start = [], threading.Barrier(4)
        def first_use():
            start.wait()
            found.append(callable(scipy_signal().find_peaks))
        threads = [threading.Thread(target=first_use) for _ in range(4)]
        for t in threads: t.start()
        for t in threads: t.join()
        assert found == [True] * 4, found
    """)

