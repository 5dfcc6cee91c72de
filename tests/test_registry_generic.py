"""The one Registry class behind detectors, hashers, watermarkers and baselines."""

from __future__ import annotations

import sys

import pytest

from dflab.errors import UsageError
from dflab.registry import Registry


def test_register_create_and_list_with_a_pattern():
    reg = Registry("widget")

    @reg.register("round-small")
    def round_small(size=1):
        return ("round", size)

    reg.add("square", lambda: "square")
    assert reg.create("round-small", size=3) == ("round", 3)
    assert reg.get("round-small") is round_small  # the decorator returns the object unchanged
    assert reg.list() == ["round-small", "square"]
    assert reg.list("round*") == ["round-small"]
    assert reg.list("*x*") == []
    assert "square" in reg and "circle" not in reg and len(reg) == 2


def test_a_name_registered_twice_is_an_error_and_keeps_the_first():
    reg = Registry("widget")
    reg.add("a", 1)
    with pytest.raises(ValueError, match="widget 'a' registered twice"):
        reg.add("a", 2)
    assert reg.get("a") == 1


def test_unknown_names_are_a_usage_error_naming_the_known_ones():
    reg = Registry("widget")
    with pytest.raises(UsageError, match="unknown widget 'b'; known: none registered"):
        reg.get("b")
    reg.add("a", 1)
    with pytest.raises(UsageError, match="known: a$"):
        reg.create("b")


def test_builtin_modules_load_lazily_and_missing_ones_are_skipped(monkeypatch, tmp_path):
    (tmp_path / "dflab_test_widget_registry.py").write_text(
        "from dflab.registry import Registry\n"
        "WIDGETS = Registry('widget', ['dflab_test_widget_builtin', 'dflab_test_widget_not_there'])\n"
    )
    (tmp_path / "dflab_test_widget_builtin.py").write_text(
        "from dflab_test_widget_registry import WIDGETS\n"
        "@WIDGETS.register('builtin')\n"
        "class Builtin:\n"
        "    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("dflab_test_widget_registry", "dflab_test_widget_builtin"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    import dflab_test_widget_registry

    assert "dflab_test_widget_builtin" not in sys.modules  # nothing imported up front
    assert dflab_test_widget_registry.WIDGETS.list() == ["builtin"]
    assert dflab_test_widget_registry.WIDGETS.list() == ["builtin"]  # loaded once: not registered twice
    assert "dflab_test_widget_builtin" in sys.modules


def test_a_builtin_module_with_a_missing_dependency_raises(monkeypatch, tmp_path):
    (tmp_path / "dflab_test_broken_plugin.py").write_text("import dflab_test_no_such_dependency\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    reg = Registry("widget", ["dflab_test_broken_plugin"])
    with pytest.raises(ModuleNotFoundError, match="dflab_test_no_such_dependency"):
        reg.list()


def test_every_plugin_kind_uses_the_one_registry_class():
    from dflab.detect.registry import DETECTORS, list_detectors
    from dflab.eval.baselines import BASELINES, list_baselines
    from dflab.provenance.registry.hashers import HASHERS, list_hashers
    from dflab.provenance.watermark.registry import WATERMARKERS, list_watermarkers

    for registry in (DETECTORS, BASELINES, HASHERS, WATERMARKERS):
        assert isinstance(registry, Registry)
    assert {"pdq", "pdq-crops"} <= set(list_hashers()) and list_hashers("pdq-*") == ["pdq-crops"]
    assert "dflab-v1" in list_watermarkers()
    assert {"mesonet", "mesoinception"} <= set(list_baselines())
    assert list_detectors("*sync*") == [n for n in list_detectors() if "sync" in n]
    with pytest.raises(UsageError, match="unknown hasher"):
        HASHERS.create("no-such-hasher")
    with pytest.raises(UsageError, match="unknown watermarker"):
        WATERMARKERS.create("no-such-mark")
