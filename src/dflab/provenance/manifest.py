"""Write and read C2PA manifests (c2pa-python 0.38.1), fully offline.

Writing: `sign_file` embeds one manifest with
  - `c2pa.actions`: c2pa.created (new or generated media) or c2pa.opened + c2pa.edited (media with a parent),
    carrying the IPTC digitalSourceType (trainedAlgorithmicMedia for generated media, digitalCapture for
    registered originals);
  - `c2pa.soft-binding` naming our watermark (alg SOFT_BINDING_ALG, one block whose value is the payload hex);
  - `org.dflab.ledger`, the transparency-ledger record this signature was logged as;
  - parent media as ingredients (the first `parentOf`, the others `componentOf`).
Reading: `read_manifest` returns the validation state with our CA as a user trust anchor, so our own
signatures read "Trusted"; anything else signed correctly reads "Valid" (signer untrusted), exactly as the SDK says.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Sequence

from dflab.atomic import default_file_mode
from dflab.config import Limits
from dflab.errors import BadMedia, IntegrityError, NotFound, Unsupported, UsageError
from dflab.version import __version__

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
TRAINED_ALGORITHMIC_MEDIA = IPTC + "trainedAlgorithmicMedia"
DIGITAL_CAPTURE = IPTC + "digitalCapture"
# Source types that mean "a generator made (part of) this" (IPTC NewsCodes digitalsourcetype).
SYNTHETIC_SOURCE_TYPES = frozenset(
    IPTC + name
    for name in (
        "trainedAlgorithmicMedia",
        "compositeWithTrainedAlgorithmicMedia",
        "algorithmicMedia",
        "compositeSynthetic",
    )
)
SOFT_BINDING_LABEL = "c2pa.soft-binding"
SOFT_BINDING_ALG = "org.dflab.watermark.v1"
LEDGER_LABEL = "org.dflab.ledger"
CONSENT_LABEL = "org.dflab.consent"  # dflab.provenance.consent: whose consent a made output rests on

# The media types `dflab sign` accepts. The SDK handles more (PDF, Office, ...), but those are not media.
SIGNABLE_TYPES: dict[str, str] = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
    ".gif": "image/gif",
    ".avif": "image/avif",
    ".heic": "image/heic",
    ".heif": "image/heif",
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".mov": "video/quicktime",
    ".avi": "video/x-msvideo",
    ".wav": "audio/wav",
    ".mp3": "audio/mpeg",
    ".m4a": "audio/mp4",
    ".flac": "audio/flac",
}

STATES_WITH_MANIFEST = ("Trusted", "Valid", "Invalid")


def media_type_for(path: Path) -> str:
    """The MIME type dflab signs `path` as, from its extension. Unknown extensions are Unsupported."""
    mime = SIGNABLE_TYPES.get(path.suffix.lower())
    if mime is None:
        raise Unsupported(
            f"cannot sign {path.name}: unsupported format {path.suffix or '(no extension)'} "
            f"(supported: {', '.join(sorted(set(SIGNABLE_TYPES)))})"
        )
    return mime


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# ---------------------------------------------------------------- manifest definition (pure)


def soft_binding_assertion(payload: bytes | str, name: str = "dflab invisible watermark") -> dict:
    """The `c2pa.soft-binding` assertion (C2PA 2.x soft-binding-map) for our watermark payload.

    One block over the whole asset (empty scope); its value is the payload hex. `pad` is the spec's
    mandatory byte string that lets a signer rewrite the assertion in place; one zero byte suffices here.
    """
    value = payload.hex() if isinstance(payload, (bytes, bytearray)) else str(payload).lower()
    if not re.fullmatch(r"[0-9a-f]{2,}", value):
        raise UsageError(f"soft-binding payload must be hex bytes, got {payload!r}")
    return {
        "label": SOFT_BINDING_LABEL,
        "data": {"alg": SOFT_BINDING_ALG, "name": name, "blocks": [{"scope": {}, "value": value}], "pad": [0]},
    }


def _action(entry: str | dict) -> dict:
    if isinstance(entry, str):
        return {"action": entry}
    if not isinstance(entry, dict) or "action" not in entry:
        raise UsageError(f"an action must be a name or a dict with 'action', got {entry!r}")
    return dict(entry)


def default_actions(synthetic: bool, has_parent: bool, edited: bool = True) -> list[dict]:
    """C2PA 2.x wants the first action to be c2pa.created (no parent) or c2pa.opened (with a parentOf ingredient).

    With a parent: c2pa.opened, then c2pa.edited unless nothing was changed (re-signing an already signed
    original only opens it; its digitalSourceType stays in the parent manifest, where `read_manifest` finds it).
    """
    source_type = TRAINED_ALGORITHMIC_MEDIA if synthetic else DIGITAL_CAPTURE
    agent = {"name": "dflab", "version": __version__}
    if not has_parent:
        return [{"action": "c2pa.created", "digitalSourceType": source_type, "softwareAgent": agent}]
    acts: list[dict] = [{"action": "c2pa.opened", "parameters": {"ingredientIds": ["parent0"]}, "softwareAgent": agent}]
    if edited or synthetic:
        acts.append({"action": "c2pa.edited", "softwareAgent": agent})
        if synthetic:
            acts[-1]["digitalSourceType"] = source_type
    return acts


def build_definition(
    title: str,
    synthetic: bool,
    actions: Sequence[str | dict] | None = None,
    n_parents: int = 0,
    ledger_record: dict | None = None,
    soft_binding: dict | bytes | str | None = None,
    edited: bool = True,
    consent: dict | None = None,
) -> dict:
    """The manifest definition handed to the SDK's Builder (pure: same inputs, same dict). `consent`: the data of
    the consent assertion (consent.ledger_consent), for media the maker made; None adds no such assertion."""
    if actions:
        acts = [_action(a) for a in actions]
        if not any("digitalSourceType" in a for a in acts) and acts[0]["action"] == "c2pa.created":
            acts[0]["digitalSourceType"] = TRAINED_ALGORITHMIC_MEDIA if synthetic else DIGITAL_CAPTURE
    else:
        acts = default_actions(synthetic, n_parents > 0, edited)
    assertions: list[dict] = [{"label": "c2pa.actions", "data": {"actions": acts}}]
    if soft_binding is not None:
        if isinstance(soft_binding, dict):
            payload = soft_binding.get("payload") or soft_binding.get("value")
            if payload is None:
                raise UsageError("soft_binding needs a 'payload' (hex)")
            assertions.append(soft_binding_assertion(payload, soft_binding.get("name", "dflab invisible watermark")))
        else:
            assertions.append(soft_binding_assertion(soft_binding))
    if ledger_record is not None:
        assertions.append({"label": LEDGER_LABEL, "data": json.loads(json.dumps(ledger_record, default=str))})
    if consent is not None:
        assertions.append({"label": CONSENT_LABEL, "data": json.loads(json.dumps(consent, default=str))})
    return {
        "claim_generator_info": [{"name": "dflab", "version": __version__}],
        "title": title,
        "assertions": assertions,
    }


def definition_hash(definition: dict) -> str:
    """SHA-256 of the canonical JSON of a manifest definition (what the ledger records as the manifest hash)."""
    return hashlib.sha256(json.dumps(definition, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


# ---------------------------------------------------------------- signing


def _check_paths(in_path: Path, out_path: Path, overwrite: bool) -> str:
    if not in_path.is_file():
        raise NotFound(f"input {in_path} does not exist or is not a file")
    mime = media_type_for(in_path)
    if media_type_for(out_path) != mime:
        raise UsageError(f"output {out_path.name} must have the same format as the input ({mime})")
    if in_path.resolve() == out_path.resolve():
        raise UsageError("output must be a new file, not the input itself")
    if out_path.is_dir():
        raise UsageError(f"output {out_path} is a directory; give a file name")
    if out_path.exists() and not overwrite:
        raise UsageError(f"output {out_path} already exists (choose another path)")
    if not out_path.parent.is_dir():
        raise UsageError(f"output directory {out_path.parent} does not exist")
    size = in_path.stat().st_size
    if size == 0:
        raise BadMedia(f"{in_path} is empty")
    if size > Limits().max_file_bytes:
        from dflab.errors import LimitExceeded

        raise LimitExceeded(f"{in_path} is {size} bytes, over the {Limits().max_file_bytes}-byte limit")
    return mime


def check_signable(path: Path, limits: Limits = Limits()) -> None:
    """The open-and-check step of every command (dflab.media.check), so that nothing is signed (or entered in
    the ledger) that `dflab verify` and the other commands would refuse: cut or damaged files, pictures over the
    pixel limit or under the minimum size, empty audio. Formats Pillow reads but dflab does not analyse (GIF,
    TIFF) get the same pixel and size rules; HEIC/AVIF are read as one-frame video."""
    from dflab.media.check import check_media

    check_media(path, limits, other_images=True)


def sign_file(
    in_path: str | Path,
    out_path: str | Path,
    synthetic: bool,
    actions: Sequence[str | dict] | None = None,
    ingredients: Sequence[str | Path] = (),
    ledger_record: dict | None = None,
    soft_binding: dict | bytes | str | None = None,
    *,
    overwrite: bool = False,
    keys_home: Path | None = None,
    material=None,
    check_input: bool = True,
    consent: dict | None = None,
) -> dict:
    """Sign `in_path` into `out_path` with the local key set. Returns a summary (manifest label, bytes, hash).

    `material`: the keys.SigningMaterial to sign with (what a lab's key set gives); without it, the key files
    under `keys_home` (default: the default configuration's keys).

    `ingredients` are parent media files: the first becomes the `parentOf` ingredient, the rest `componentOf`.
    If the input itself already carries a manifest and no parent is given, it becomes the parent, so the
    earlier provenance stays in the chain instead of being replaced. The output appears atomically, with the
    file mode of any other dflab output. check_input=False skips check_signable (for a caller that just ran it).
    `consent`: the consent assertion's data (see build_definition).
    """
    import c2pa

    from dflab.provenance.keys import load_signing_material

    src, dst = Path(in_path), Path(out_path)
    mime = _check_paths(src, dst, overwrite)
    if check_input:
        check_signable(src)
    parents = [Path(p) for p in ingredients]
    for parent in parents:
        if not parent.is_file():
            raise NotFound(f"parent {parent} does not exist")
        media_type_for(parent)
    resigned = not parents and _has_manifest(src)
    if resigned:
        parents = [src]
    if material is None:
        material = load_signing_material(keys_home)
    definition = build_definition(
        src.name, synthetic, actions, len(parents), ledger_record, soft_binding, edited=not resigned, consent=consent
    )

    fd, tmp = tempfile.mkstemp(dir=dst.parent, prefix=f".{dst.name}.", suffix=".part")
    os.fchmod(fd, default_file_mode())  # mkstemp makes 0600; a signed copy is as readable as any other output
    os.close(fd)
    try:
        try:
            signer = c2pa.Signer.from_info(
                c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, material.chain_pem, material.private_key_pem, None)
            )
        except c2pa.C2paError as exc:
            raise IntegrityError(f"the signing keys were refused by the C2PA SDK ({exc}); run `dflab keys init --force`") from None
        try:
            builder = c2pa.Builder(definition, context=_context(None))
            for i, parent in enumerate(parents):
                relation = {"title": parent.name, "relationship": "parentOf" if i == 0 else "componentOf"}
                relation["label"] = f"parent{i}" if i == 0 else f"component{i}"
                with open(parent, "rb") as fh:
                    builder.add_ingredient(relation, media_type_for(parent), fh)
            with open(src, "rb") as source, open(tmp, "w+b") as dest:
                manifest_bytes = builder.sign(signer, mime, source, dest)
        except c2pa.C2paError as exc:
            raise BadMedia(f"cannot sign {src.name} as {mime}: {_sdk_message(exc)}") from None
        os.replace(tmp, dst)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return {
        "output": str(dst),
        "format": mime,
        "manifest_bytes": len(manifest_bytes),
        "manifest_sha256": hashlib.sha256(manifest_bytes).hexdigest(),
        "definition_sha256": definition_hash(definition),
        "synthetic": synthetic,
        "parents": [str(p) for p in parents],
    }


def _sdk_message(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:300]


def _has_manifest(path: Path) -> bool:
    import c2pa

    try:
        with c2pa.Reader(str(path), context=_context(None)):
            return True
    except c2pa.C2paError:
        return False


# ---------------------------------------------------------------- reading


def _context(trust_anchor_pem: bytes | None):
    """A reader/builder context that never touches the network; optional user trust anchors."""
    import c2pa

    settings: dict = {
        "verify": {"verify_trust": True, "remote_manifest_fetch": False, "ocsp_fetch": False},
        # Thumbnails would add up to hundreds of KB per PNG; verification does not need them.
        "builder": {"thumbnail": {"enabled": False}},
    }
    if trust_anchor_pem:
        settings["trust"] = {"user_anchors": trust_anchor_pem.decode("ascii", "replace")}
    return c2pa.Context(c2pa.Settings.from_dict(settings))


def _empty_result(path: Path, state: str, **extra) -> dict:
    result = {
        "path": str(path),
        "state": state,
        "manifest": False,
        "active_label": None,
        "active_manifest": None,
        "n_manifests": 0,
        "digital_source_type": None,
        "digital_source_type_from": None,
        "synthetic": None,
        "actions": [],
        "ingredients": [],
        "soft_binding": None,
        "ledger": None,
        "consent": None,
        "signer": None,
        "failure_codes": [],
        "validation_errors": [],
        "remote_url": None,
        "error": None,
    }
    result.update(extra)
    return result


def read_manifest(path: str | Path, trust_anchors: bytes | None = None) -> dict:
    """Read and validate the C2PA manifest of `path`, offline.

    trust_anchors: CA certificate PEM(s) to trust; None means our local CA from `dflab keys init` (if any),
    b"" means trust nothing. Returns a dict whose "state" is one of
      "Trusted" / "Valid" / "Invalid"  the SDK's validation state of the active manifest,
      "none"      no C2PA data in the file,
      "remote"    only a remote manifest reference (not fetched: dflab works offline; see remote_url),
      "rejected"  C2PA data the SDK refuses to validate (pre-release content).
    Raises NotFound (no file), Unsupported (a format the SDK cannot read) and IntegrityError (manifest data
    that cannot be parsed at all).
    """
    import c2pa

    from dflab.provenance.keys import check_trust_anchors, load_trust_anchor

    src = Path(path)
    if not src.is_file():
        raise NotFound(f"{src} does not exist or is not a file")
    anchors = load_trust_anchor() if trust_anchors is None else trust_anchors
    if anchors:
        # Checked here so that a bad anchor is never reported as a corrupt manifest in the file being read.
        check_trust_anchors(anchors, "the trust anchors" if trust_anchors is not None else "the local CA certificate")
    try:
        reader = c2pa.Reader(str(src), context=_context(anchors))
    except c2pa.C2paError.ManifestNotFound:
        return _empty_result(src, "none")
    except c2pa.C2paError.NotSupported:
        raise Unsupported(f"{src.name}: the C2PA reader does not support this file type") from None
    except c2pa.C2paError as exc:
        message = _sdk_message(exc)
        if message.startswith("Remote:") or isinstance(exc, c2pa.C2paError.RemoteManifest):
            url = re.search(r"https?://\S+", message)
            return _empty_result(src, "remote", remote_url=url.group(0) if url else None, error=message)
        if "prerelease" in message:
            return _empty_result(src, "rejected", manifest=True, error=message)
        raise IntegrityError(f"{src.name}: the C2PA manifest is corrupt or unreadable ({message})") from None
    with reader:
        return _summarise(src, reader)


def _summarise(src: Path, reader) -> dict:
    store = json.loads(reader.json())
    label = store.get("active_manifest")
    manifests = store.get("manifests") or {}
    active = manifests.get(label) if label else None
    results = reader.get_validation_results() or store.get("validation_results") or {}
    failures = _failures(results) or list(store.get("validation_status") or [])
    state = reader.get_validation_state() or ("Invalid" if failures else "Valid")
    out = _empty_result(
        src,
        state,
        manifest=True,
        active_label=label,
        active_manifest=active,
        n_manifests=len(manifests),
        failure_codes=sorted({f.get("code", "") for f in failures}),
        validation_errors=failures,
        remote_url=reader.get_remote_url(),
    )
    if active:
        assertions = active.get("assertions") or []
        actions = [a for item in assertions if item.get("label", "").startswith("c2pa.actions")
                   for a in (item.get("data") or {}).get("actions", [])]
        out["actions"] = actions
        out["digital_source_type"] = _source_type(actions)
        out["digital_source_type_from"] = "active" if out["digital_source_type"] else None
        if not out["digital_source_type"]:
            # An "opened" manifest inherits the source type of its parentOf ingredient's manifest.
            parent = next((i for i in active.get("ingredients") or [] if i.get("relationship") == "parentOf"), None)
            parent_manifest = manifests.get((parent or {}).get("active_manifest") or "")
            if parent_manifest:
                inherited = _source_type(
                    [a for item in parent_manifest.get("assertions") or [] if item.get("label", "").startswith("c2pa.actions")
                     for a in (item.get("data") or {}).get("actions", [])]
                )
                out["digital_source_type"] = inherited
                out["digital_source_type_from"] = "parent" if inherited else None
        if out["digital_source_type"]:
            out["synthetic"] = out["digital_source_type"] in SYNTHETIC_SOURCE_TYPES
        out["soft_binding"] = _assertion(assertions, SOFT_BINDING_LABEL)
        out["ledger"] = _assertion(assertions, LEDGER_LABEL)
        out["consent"] = _assertion(assertions, CONSENT_LABEL)
        out["ingredients"] = [
            {"title": i.get("title"), "relationship": i.get("relationship"), "format": i.get("format"),
             "active_manifest": i.get("active_manifest")}
            for i in active.get("ingredients") or []
        ]
        out["signer"] = active.get("signature_info")
    return out


def _source_type(actions: list[dict]) -> str | None:
    return next((a["digitalSourceType"] for a in actions if a.get("digitalSourceType")), None)


def _assertion(assertions: list[dict], label: str) -> dict | None:
    for item in assertions:
        if item.get("label") == label or item.get("label", "").startswith(label + "."):
            return item.get("data")
    return None


def _failures(results: dict) -> list[dict]:
    """Failure entries of the active manifest and of every ingredient delta (where parent-chain failures sit)."""
    out = list((results.get("activeManifest") or {}).get("failure") or [])
    for delta in results.get("ingredientDeltas") or []:
        out.extend((delta.get("validationDeltas") or {}).get("failure") or [])
    return out


def guess_mime(path: Path) -> str | None:
    """Best-effort MIME type for display (the reader itself sniffs the bytes)."""
    return SIGNABLE_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(str(path))[0]
