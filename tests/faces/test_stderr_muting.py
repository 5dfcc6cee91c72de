"""Muting MediaPipe's start-up chatter swaps file descriptor 2 for the whole process: overlapping mutes from
several threads must still leave stderr pointing where it pointed before."""

import os
import threading
import time

from dflab.faces.models import silenced_stderr


def _fd2_identity() -> tuple[int, int]:
    st = os.fstat(2)
    return st.st_dev, st.st_ino


def test_overlapping_mutes_from_many_threads_restore_stderr(capfd):
    before = _fd2_identity()
    start = threading.Barrier(8)

    def mute_repeatedly() -> None:
        start.wait()
        for _ in range(25):
            with silenced_stderr():
                with silenced_stderr():  # nested, as when a graph is built while its loader already muted
                    time.sleep(0.001)  # let the other threads run while this one is muted

    threads = [threading.Thread(target=mute_repeatedly) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert _fd2_identity() == before, "descriptor 2 no longer refers to the original stderr"
    os.write(2, b"stderr still works\n")
    assert "stderr still works" in capfd.readouterr().err


def test_muted_output_is_dropped_and_unmuted_output_is_not(capfd):
    with silenced_stderr():
        os.write(2, b"chatter\n")
    os.write(2, b"real error\n")
    err = capfd.readouterr().err
    assert "chatter" not in err and "real error" in err
