"""The user documentation and its two scripts: docs/benchmarks.md is generated from bench/results, the data
fetcher knows every public data set and plans offline, the README keeps every command users rely on."""

from __future__ import annotations

import hashlib
import importlib.util
import re
import shutil
import sys
import urllib.error
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

# Pages other parts of the project write; links to them may run ahead of this checkout.
PAGES_WRITTEN_ELSEWHERE = {
    "docs/python-api.md", "docs/stores.md", "docs/speed.md", "docs/ARCHITECTURE.md",
    "docs/models/aasist.md", "docs/models/synthetic_image_cnn.md",
}
# The pages this suite vouches for (others' pages follow their own rules).
USER_PAGES = ["README.md", "docs/README.md", "docs/methods.md", "docs/data.md", "docs/benchmarks.md",
              "docs/models/face_crop.md", "docs/models/synthetic_image.md", "docs/models/synthetic_speech.md",
              "docs/models/speaker_verification.md", "docs/models/speed.md"]


def _load_script(name: str):
    spec = importlib.util.spec_from_file_location(f"dflab_script_{name}", ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench_tables():
    return _load_script("bench_tables")


@pytest.fixture(scope="module")
def fetch_data():
    return _load_script("fetch_data")


# --- docs/benchmarks.md -----------------------------------------------------------------------------------------


def test_benchmarks_page_is_what_the_committed_results_give(bench_tables):
    committed = (DOCS / "benchmarks.md").read_text(encoding="utf-8")
    assert committed == bench_tables.render(), "docs/benchmarks.md is stale: run python scripts/bench_tables.py"


def test_every_results_file_has_a_section_and_no_renderer_fell_back(bench_tables):
    page = bench_tables.render()
    for result in sorted((ROOT / "bench" / "results").glob("*.json")):
        assert f"\n## {result.stem}\n" in page
    assert "layout changed" not in page  # a renderer that no longer fits its JSON falls back and says so


def test_a_results_file_without_renderer_gets_its_top_level_figures(bench_tables):
    lines = bench_tables.section("made_up_bench", {"auc": 0.8123, "n": 40, "machine": {"cpus": 2},
                                                   "rows": [{"x": 1}], "summary": {"eer": 0.25, "note": "x"}})
    text = "\n".join(lines)
    assert "## made_up_bench" in text and "| auc | 0.812 |" in text and "| summary / eer | 0.25 |" in text
    assert "note" not in text  # only figures, not strings, from nested objects


def test_the_findings_table_renders_the_columns_its_benchmark_writes(bench_tables):
    doc = {"development": [{"finding": "synthetic_voice", "n_real": 60, "n_fake": 70, "shipped": "fused",
                            "auc": 0.91, "eer": 0.12, "ece": 0.05, "best_member": "aasist", "best_auc": 0.88}],
           "held_out": [{"set": "cloned voices", "n_real": 64, "n_fake": 67, "finding": "synthetic_voice",
                         "finding_auc": 0.8, "file_auc": 0.79, "fakes_flagged": 0.5, "reals_flagged": 0.02}]}
    text = "\n".join(bench_tables.section("findings", doc))
    assert "layout changed" not in text
    assert "| synthetic_voice | 60 / 70 | fused | 0.91 | 0.12 | 0.05 | aasist | 0.88 |" in text
    assert "| cloned voices | 64 / 67 | synthetic_voice | 0.8 | 0.79 | 50.0 % | 2.0 % | - |" in text


def test_a_renderer_that_no_longer_fits_falls_back_instead_of_failing(bench_tables):
    text = "\n".join(bench_tables.section("cuts", {"summary": {"renamed": 1.0}, "seed": 6}))
    assert "layout changed" in text and "| summary / renamed | 1.0 |" in text


# --- README and the pages ---------------------------------------------------------------------------------------


def test_readme_fits_the_budget():
    # The front page covers the library, the service and the scale-out; details belong in docs/.
    assert len((ROOT / "README.md").read_text(encoding="utf-8")) <= 18_500


@pytest.mark.parametrize("page", USER_PAGES)
def test_pages_speak_to_users_not_about_the_lab_history(page):
    text = (ROOT / page).read_text(encoding="utf-8").lower()
    for word in ("session", "issue", "helper", "shipped models of"):
        assert word not in text, f"{page} mentions {word!r}"


def test_readme_keeps_every_command_and_option_users_script_against():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    needed = [
        "dflab scan FILE...", "--json", "--report DIR", "--reference VOICE.wav", "dflab eval MANIFEST.csv",
        "dflab watermark embed IN OUT --payload HEX", "detect IN", "dflab keys init", "dflab sign IN OUT",
        "--synthetic", "dflab verify FILE", "dflab register FILE...", "dflab trace FILE", "dflab ledger checkpoint",
        "prove", "dflab compare SUSPECT", "--original FILE", "dflab swap extract", "dflab gan train",
        "dflab train detector", "synthetic-image", "synthetic-speech", "fusion",
    ]
    missing = [item for item in needed if item not in readme]
    assert not missing, f"README lost: {missing}"


def test_readme_names_every_verb_of_the_cli():
    from dflab.cli.main import build_parser

    parser = build_parser()
    verbs = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction").choices
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert [v for v in verbs if f"dflab {v}" not in readme] == []


@pytest.mark.parametrize("page", USER_PAGES)
def test_relative_links_resolve(page):
    text = (ROOT / page).read_text(encoding="utf-8")
    base = (ROOT / page).parent
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        resolved = (base / target).resolve()
        rel = resolved.relative_to(ROOT).as_posix() if resolved.is_relative_to(ROOT) else str(resolved)
        assert resolved.exists() or rel in PAGES_WRITTEN_ELSEWHERE, f"{page}: broken link {target}"


def test_model_cards_quote_the_commands_in_the_weights_metadata():
    import json

    weights = ROOT / "src" / "dflab"
    cards = {
        "face_crop.md": json.loads((weights / "detect/learned/weights/face_crop_effnet_lite0.json").read_text())["command"],
        "synthetic_image.md": json.loads((weights / "detect/learned/weights/synthetic_image.json").read_text())["meta"]["command"],
        "speed.md": json.loads((weights / "audio/weights/speed.json").read_text())["meta"]["command"],
        "speaker_verification.md": json.loads((weights / "audio/weights/speaker_verification.json").read_text())["command"],
    }
    def same_entry_points(text: str) -> str:
        # A module that moved package (dflab.audio.x -> dflab.train.x) is still the same command.
        return re.sub(r"\bdflab(?:\.\w+)*\.(\w+)", r"\1", " ".join(text.split()))

    for card, command in cards.items():
        text = (DOCS / "models" / card).read_text(encoding="utf-8")
        assert same_entry_points(command) in same_entry_points(text), f"{card} does not show `{command}`"


# --- scripts/fetch_data.py: offline planning --------------------------------------------------------------------


def _readme_folders(shared_data: Path) -> list[str]:
    folders = re.findall(r"^\| ([a-z0-9_]+)/ \|", (shared_data / "README.md").read_text(encoding="utf-8"), re.M)
    assert len(folders) >= 10
    return folders


def test_every_set_the_data_readme_lists_has_an_entry(fetch_data, shared_data):
    names = set(fetch_data.sets_by_name())
    folders = _readme_folders(shared_data) + ["manifests"]
    assert [f for f in folders if f not in names] == []
    on_disk = sorted(p.name for p in shared_data.iterdir() if p.is_dir())
    assert [f for f in on_disk if f not in names] == []


def test_the_index_lists_exactly_the_files_of_the_data_folder(fetch_data, shared_data):
    indexed = {item.rel: item.size for item in fetch_data.read_index()}
    on_disk = {p.relative_to(shared_data).as_posix(): p.stat().st_size
               for p in shared_data.rglob("*") if p.is_file()}
    on_disk = {k: v for k, v in on_disk.items() if k not in fetch_data.TOP_LEVEL_MADE_HERE}
    assert sorted(set(on_disk) ^ set(indexed))[:10] == [], "run python scripts/fetch_data.py index"
    assert [k for k in on_disk if on_disk[k] != indexed[k]][:10] == []


def test_index_hashes_agree_with_the_source_files_checksum_lists(fetch_data, shared_data):
    sets = fetch_data.sets_by_name()
    # Upstream files only: files made for dflab (e.g. an expectation file) may be rebuilt after the listing.
    indexed = {item.rel: item.sha for item in fetch_data.read_index()
               if not sets[item.set_name].is_made_here(item.path)}
    checked = 0
    for source in shared_data.glob("*/SOURCE.txt"):
        listing = source.read_text(encoding="utf-8").split("# files: bytes sha256 path", 1)
        for line in listing[1].splitlines() if len(listing) == 2 else []:
            match = re.match(r"(\d+) ([0-9a-f]{64}) (.+)$", line.strip())
            rel = f"{source.parent.name}/{match.group(3)}" if match else ""
            if rel in indexed:  # a few listed upstream files were left out of the folder (SOURCE.txt says so)
                assert indexed[rel] == match.group(2)[: fetch_data.HASH_CHARS], rel
                checked += 1
    assert checked > 500


def test_download_urls_follow_the_upstream_paths_the_source_tables_record(fetch_data, shared_data):
    sets = fetch_data.sets_by_name()
    checked = 0
    for item in fetch_data.read_index():
        table = shared_data / item.set_name / "SOURCE.md"
        if not table.is_file() or sets[item.set_name].is_made_here(item.path):
            continue
        upstream = fetch_data.upstream_paths_from_source_md(table.parent).get(item.sha[:12])
        if upstream:
            url = item.urls(sets[item.set_name])[0]
            assert any(url.endswith("/" + u) for u in upstream), (item.rel, url, upstream)
            checked += 1
    assert checked >= 140  # cloned_voices, aasist, wavefake


def test_urls_point_at_the_pinned_commit(fetch_data):
    sets = fetch_data.sets_by_name()
    assert sets["librispeech"].urls("1688/1688-142285-0002.flac") == [
        "https://raw.githubusercontent.com/resemble-ai/Resemblyzer/15d828edebe06bc72b9cabc8ef8ca5ab2cb457ce/"
        "audio_data/librispeech_test-other/1688/1688-142285-0002.flac"]
    assert sets["ffpp"].urls("original_sequences/youtube/c23/videos/004.mp4")[0].endswith(
        "/polimi-ispl/icpr2020dfdc/bbd64115e612e50416fb64fa8f60393fe4642dc0/"
        "test/data/ffpp/original_sequences/youtube/c23/videos/004.mp4")
    assert len(sets["faces"].urls("ciplab_real/real_00001.jpg")) == 2  # train/ or test/ upstream
    assert sets["cnndetection"].urls("crops/0_cyclegan_real.png") == []  # made here, not downloadable
    for item in fetch_data.read_index():
        data_set = sets[item.set_name]
        assert data_set.is_made_here(item.path) or item.urls(data_set), f"{item.rel} has no route upstream"


def test_dry_run_into_an_empty_folder_plans_every_set(fetch_data, tmp_path, capsys):
    assert fetch_data.main(["--dry-run", "--dest", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for data_set in fetch_data.SETS:
        assert f"\n{data_set.name}: 0 present" in "\n" + out
    assert "https://raw.githubusercontent.com/KwaiVGI/LivePortrait/1986663be3b6902605d32200c01f4bfd36cda83d/" in out
    assert "cannot be downloaded" in out and re.search(r"total: \d{4} files to fetch", out)
    assert not any(tmp_path.iterdir())  # a dry run writes nothing


def test_dry_run_over_the_complete_folder_skips_everything(fetch_data, shared_data, capsys):
    assert fetch_data.main(["--dry-run", "--dest", str(shared_data)]) == 0
    out = capsys.readouterr().out
    assert "total: 0 files to fetch" in out and "differ from the index" not in out


def test_present_files_are_skipped_and_damaged_ones_fetched_again(fetch_data, shared_data, tmp_path):
    good, damaged = "mesonet/test_images/real/real00240.jpg", "mesonet/test_images/df/df00204.jpg"
    for rel in (good, damaged):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shared_data / rel, tmp_path / rel)
    with open(tmp_path / damaged, "r+b") as handle:  # same size, other bytes: only --verify sees it
        handle.write(b"\0" * 16)
    [quick] = fetch_data.plan(tmp_path, {"mesonet"})
    assert {i.rel for i in quick.present} == {good, damaged}
    [verified] = fetch_data.plan(tmp_path, {"mesonet"}, verify=True)
    assert {i.rel for i in verified.present} == {good}
    assert damaged in {i.rel for i in verified.wrong} and damaged in {i.rel for i in verified.fetch}
    assert "mesonet/SOURCE.txt" in {i.rel for i in verified.made_here_missing}


def test_offline_gives_one_clear_line_and_exit_code_2(fetch_data, tmp_path, monkeypatch, capsys):
    def no_network(url, timeout=30.0):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(fetch_data, "_open", no_network)
    assert fetch_data.main(["--dest", str(tmp_path), "--only", "mesonet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: offline:") and err.count("\n") == 1
    assert not any(tmp_path.iterdir())


def test_unknown_set_names_are_refused(fetch_data, capsys):
    assert fetch_data.main(["--dry-run", "--only", "librispeech,nosuchset"]) == 2
    assert "nosuchset" in capsys.readouterr().err


def test_a_download_is_checked_against_the_index_before_it_lands(fetch_data, tmp_path, monkeypatch):
    payload = b"the right bytes"
    item = fetch_data.IndexedFile("mesonet", "weights/x.h5", len(payload),
                                  hashlib.sha256(payload).hexdigest()[: fetch_data.HASH_CHARS])
    plans = [fetch_data.SetPlan(fetch_data.sets_by_name()["mesonet"], fetch=[item])]
    monkeypatch.setattr(fetch_data, "_download", lambda urls: payload)
    assert fetch_data.fetch(plans, tmp_path) == 0
    assert (tmp_path / "mesonet/weights/x.h5").read_bytes() == payload
    monkeypatch.setattr(fetch_data, "_download", lambda urls: b"other bytes")
    (tmp_path / "mesonet/weights/x.h5").unlink()
    assert fetch_data.fetch(plans, tmp_path) == 1
    assert not (tmp_path / "mesonet/weights/x.h5").exists()


def test_index_round_trip(fetch_data, tmp_path):
    data = tmp_path / "data"
    (data / "wavefake" / "tests").mkdir(parents=True)
    (data / "wavefake" / "tests" / "a b.wav").write_bytes(b"abc")
    (data / "wavefake" / "top.txt").write_bytes(b"")
    out = tmp_path / "index.txt"
    assert fetch_data.write_index(data, out) == 2
    items = {i.rel: i for i in fetch_data.read_index(out)}
    assert items["wavefake/tests/a b.wav"].size == 3
    assert items["wavefake/tests/a b.wav"].sha == hashlib.sha256(b"abc").hexdigest()[:16]
    assert items["wavefake/top.txt"].size == 0


@pytest.mark.parametrize("page", USER_PAGES)
def test_python_modules_the_pages_run_exist(page):
    """`python -m dflab.x.y` in a page must name a module that is there (modules move between packages)."""
    text = (ROOT / page).read_text(encoding="utf-8")
    missing = sorted({m for m in re.findall(r"python -m (dflab[\w.]*)", text)
                      if importlib.util.find_spec(m) is None})
    assert missing == [], f"{page} runs modules that do not exist: {missing}"


@pytest.mark.parametrize("page", USER_PAGES)
def test_cli_commands_the_pages_show_exist(page):
    """Every `dflab VERB [SUB]` in code (inline or in a block) names a real command and sub-command."""
    from dflab.cli.main import build_parser

    def choices(parser):
        action = next((a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"), None)
        return action.choices if action else {}

    verbs = choices(build_parser())
    text = (ROOT / page).read_text(encoding="utf-8")
    code = re.findall(r"```[^\n]*\n(.*?)```", text, re.S) + re.findall(r"`([^`\n]+)`", text)
    code += re.findall(r"^    (.+)$", text, re.M)  # indented blocks
    shown = [m for snippet in code
             for m in re.findall(r"(?:^|&& |\$ |nice -n \d+ )\s*(?:\.venv/bin/)?dflab ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?",
                                 snippet, re.M)]
    assert shown or page in ("docs/benchmarks.md", "docs/data.md", "docs/README.md")
    for verb, sub in shown:
        assert verb in verbs, f"{page}: `dflab {verb}` is not a command"
        subs = choices(verbs[verb])
        assert not subs or not sub or sub in subs, f"{page}: `dflab {verb} {sub}`: not one of {sorted(subs)}"


# --- what the pages show against what the code answers ------------------------------------------------------------

# Every page a user reads for commands (benchmarks.md is generated from the results and names none of its own).
PAGES_WITH_COMMANDS = ["README.md"] + sorted(p.relative_to(ROOT).as_posix() for p in DOCS.rglob("*.md")
                                             if p.name != "benchmarks.md")


def _code_lines(text: str) -> list[str]:
    """The lines of every code block, inline code span and indented block, with shell line continuations joined."""
    code = re.findall(r"```[^\n]*\n(.*?)```", text, re.S) + re.findall(r"`([^`\n]+)`", text)
    code += re.findall(r"^    (.+)$", text, re.M)
    return [line for snippet in code for line in snippet.replace("\\\n", " ").splitlines()]


@pytest.mark.parametrize("page", PAGES_WITH_COMMANDS)
def test_cli_options_the_pages_show_exist(page):
    """Every `--option` written after `dflab VERB [SUB]` (up to a comment, `&&`, a pipe) is one that command takes."""
    from dflab.cli.main import build_parser

    def choices(parser):
        action = next((a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"), None)
        return action.choices if action else {}

    verbs = choices(build_parser())
    wrong = []
    for line in _code_lines((ROOT / page).read_text(encoding="utf-8")):
        pattern = r"(?:^|&& |\$ |nice -n \d+ )\s*(?:\.venv/bin/)?dflab ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?([^#&|;]*)"
        for verb, sub, rest in re.findall(pattern, line):
            if verb not in verbs:
                wrong.append(f"dflab {verb}")
                continue
            parser, subs = verbs[verb], choices(verbs[verb])
            if subs:
                if sub and sub not in subs:
                    wrong.append(f"dflab {verb} {sub}")
                if sub not in subs or " / " in rest:  # `ledger ... --json`, `checkpoint / prove / verify [--all]`
                    continue
                parser = subs[sub]
            else:
                rest, sub = f"{sub} {rest}", ""  # no sub-commands: the word was an argument
            known = {o for action in parser._actions for o in action.option_strings}
            wrong += [f"dflab {verb} {sub} {o}".replace("  ", " ")
                      for o in re.findall(r"(?<![\w-])(--?[a-zA-Z][\w-]*)", rest) if o not in known]
    assert wrong == [], f"{page} shows options the commands do not take: {wrong}"


def _schema_property_names(node) -> set[str]:
    names: set[str] = set()
    if isinstance(node, dict):
        names |= set(node.get("properties", {})) if isinstance(node.get("properties"), dict) else set()
        for value in node.values():
            names |= _schema_property_names(value)
    elif isinstance(node, list):
        for value in node:
            names |= _schema_property_names(value)
    return names


def _section(text: str, heading_word: str) -> str:
    """The text of every `##`-or-deeper section whose heading contains heading_word."""
    parts = re.split(r"^(#{2,} .*)$", text, flags=re.M)
    return "\n".join(body for head, body in zip(parts[1::2], parts[2::2]) if heading_word in head)


def _json_names(text: str) -> set[str]:
    """Keys as pages write them: `"key": value` or a bare list `{"a", "b"}` / `{a, b}`."""
    quoted = set(re.findall(r'"(\w+)"\s*:', text)) | set(re.findall(r'(?:[{,]|#)\s*"(\w+)"', text))
    bare = {n for group in re.findall(r"`\{(\w+(?:, \w+)+)\}`", text) for n in group.split(", ")}
    return quoted | bare


def test_scan_json_keys_the_pages_show_are_in_the_schema():
    import json

    schema = json.loads((DOCS / "schema" / "scan-1.0.json").read_text(encoding="utf-8"))
    anywhere, top = _schema_property_names(schema), set(schema["properties"])

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    [example] = re.findall(r"```json\n(.*?)```", readme, re.S)
    assert "total" in schema["properties"]["timings"]["description"]  # a stage name per key: free-form
    example = re.sub(r'"timings": \{[^}]*\}', '"timings": {}', example)
    assert _json_names(example) - anywhere == set(), "README's scan --json example"
    assert set(re.findall(r'^ "(\w+)":', example, re.M)) - top == set(), "README's scan --json example, top level"

    findings = _json_names(_section((DOCS / "findings.md").read_text(encoding="utf-8"), "JSON"))
    assert len(findings) >= 10 and findings - anywhere == set(), "docs/findings.md, JSON"

    partial = re.findall(r'^    ("complete".*)$', (DOCS / "validation.md").read_text(encoding="utf-8"), re.M)
    assert partial and _json_names(" ".join(partial)) - top == set(), "docs/validation.md, --allow-partial"

    api = (DOCS / "python-api.md").read_text(encoding="utf-8")
    [listed] = re.findall(r"sorted\(doc\)\n# \('1\.0', \[(.*?)\]\)", api, re.S)
    shown = set(re.findall(r"'(\w+)'", listed))
    assert shown == top - {"report"}, "docs/python-api.md: sorted(doc) is every key but `report` (--report only)"


def test_the_service_page_shows_the_keys_the_api_answers_with():
    import pydantic

    from dflab.serve import models

    fields = {name for model in vars(models).values()
              if isinstance(model, type) and issubclass(model, pydantic.BaseModel) and model is not pydantic.BaseModel
              for name in model.model_fields}
    text = (DOCS / "service.md").read_text(encoding="utf-8")
    shown = _json_names(_section(text, "Endpoints") + _section(text, "Errors"))
    assert {"id", "state", "from_cache", "progress", "stage", "detail"} <= shown  # the parse works
    assert shown - fields == set(), "docs/service.md shows keys no answer of the API has"
