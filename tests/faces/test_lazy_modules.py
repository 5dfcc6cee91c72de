"""Deferred imports: a module imported eagerly by a package is loaded only when something reads from it."""

import subprocess
import sys
import textwrap

from dflab.faces.lazy_modules import DeferredModule, deferred


def _package(tmp_path, name: str) -> None:
    root = tmp_path / name
    root.mkdir()
    (root / "__init__.py").write_text(f"import {name}.heavy\nimport {name}.light\n")
    (root / "heavy.py").write_text("LOADS = 1\nVALUE = 42\n")
    (root / "light.py").write_text("VALUE = 7\n")


def test_deferred_module_loads_on_first_attribute(tmp_path, monkeypatch):
    name = "dflab_test_deferred_pkg"
    _package(tmp_path, name)
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        with deferred((f"{name}.heavy",)):
            package = __import__(name)
        stand_in = sys.modules[f"{name}.heavy"]
        assert isinstance(stand_in, DeferredModule)
        assert package.heavy is stand_in  # set on the parent, as a real import would
        assert package.light.VALUE == 7  # other submodules load as usual
        assert package.heavy.VALUE == 42  # first read: the real module
        real = sys.modules[f"{name}.heavy"]
        assert not isinstance(real, DeferredModule) and real.LOADS == 1
        assert package.heavy is real
    finally:
        for key in [k for k in sys.modules if k.startswith(name)]:
            del sys.modules[key]


def test_already_imported_module_is_left_alone():
    import json

    with deferred(("json",)):
        pass
    assert sys.modules["json"] is json


def test_mediapipe_loads_without_matplotlib_and_drawing_still_works():
    code = textwrap.dedent("""
        import sys
        from dflab.faces import models
        solutions = models._mp_solutions()
        assert "matplotlib" not in sys.modules, "matplotlib imported with mediapipe"
        assert solutions.face_mesh.FaceMesh is not None
        spec = solutions.drawing_utils.DrawingSpec(thickness=2)
        assert spec.thickness == 2 and "matplotlib" in sys.modules
        from mediapipe.python.solutions import drawing_styles
        assert callable(drawing_styles.get_default_face_mesh_contours_style)
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
