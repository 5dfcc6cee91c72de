"""C2SP signed notes and tlog checkpoints: interoperability vectors, our own signatures, forgeries."""

from __future__ import annotations

import base64
import hashlib
import os
import stat

import pytest

from dflab.errors import IntegrityError, UsageError
from dflab.provenance.ledger import note as notes
from dflab.provenance.ledger.note import Checkpoint, NoteVerifier, open_checkpoint, open_note, parse_checkpoint_text
from dflab.provenance.ledger.signing import KEY_FILE, VKEY_FILE, keys_dir, load_or_create_signer, parse_verifier_arg

# Published examples of the format: golang.org/x/mod/sumdb/note's package documentation, and the
# signed_note (Elixir) README. Verifying them proves byte-level compatibility with other implementations.
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_NOTE = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
    "\n"
    "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)
EXAMPLE_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
EXAMPLE_NOTE = (
    "This is an example message.\n\n"
    "— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
)


@pytest.mark.parametrize(
    "vkey,note,text",
    [
        (GO_VKEY, GO_NOTE, GO_NOTE[: GO_NOTE.index("\n\n") + 1]),
        (EXAMPLE_VKEY, EXAMPLE_NOTE, "This is an example message.\n"),
    ],
)
def test_published_notes_verify(vkey, note, text) -> None:
    verifier = NoteVerifier.parse(vkey)
    assert str(verifier) == vkey  # parse / format round trip
    assert open_note(note, [verifier]) == text
    assert open_note(note.encode(), [verifier]) == text
    tampered = note.replace("problem", "problems", 1) if "problem" in note else note.replace("example", "sample", 1)
    with pytest.raises(IntegrityError, match="does not verify"):
        open_note(tampered, [verifier])


def test_published_note_rejected_by_another_key() -> None:
    with pytest.raises(IntegrityError, match="not by the expected key"):
        open_note(GO_NOTE, [NoteVerifier.parse(EXAMPLE_VKEY)])


def test_our_key_id_follows_the_spec() -> None:
    signer = load_or_create_signer("dflab.test/log")
    pub = signer.verifier.public_key
    expected = hashlib.sha256(b"dflab.test/log\n\x01" + pub).digest()[:4]
    assert signer.verifier.key_id == expected
    vkey = str(signer.verifier)
    name, hex_id, b64 = vkey.split("+", 2)
    assert (name, hex_id) == ("dflab.test/log", expected.hex())
    assert base64.b64decode(b64) == b"\x01" + pub
    note = signer.sign("dflab.test/log\n3\n" + base64.b64encode(b"\x07" * 32).decode() + "\n")
    body, sig_line = note.split("\n\n")
    assert sig_line.startswith("\u2014 dflab.test/log ")
    raw = base64.b64decode(sig_line.split(" ")[2])
    assert raw[:4] == expected and len(raw) == 68
    cp = open_checkpoint(note, NoteVerifier.parse(vkey), origin="dflab.test/log")
    assert (cp.tree_size, cp.root) == (3, b"\x07" * 32)


def test_key_created_once_private_and_reused(tmp_path) -> None:
    a = load_or_create_signer()
    b = load_or_create_signer()
    assert str(a.verifier) == str(b.verifier)
    key_file = keys_dir() / KEY_FILE
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert (keys_dir() / VKEY_FILE).read_text().strip() == str(a.verifier)
    assert parse_verifier_arg(str(keys_dir() / VKEY_FILE)) == a.verifier
    assert parse_verifier_arg(str(a.verifier)) == a.verifier


def test_signature_from_unknown_key_is_ignored_but_known_forgery_rejects() -> None:
    ours = load_or_create_signer("dflab.test/log")
    text = Checkpoint("dflab.test/log", 1, b"\x01" * 32).text()
    note = ours.sign(text)
    # An extra signature line from a key we do not know is ignored (witness cosignatures look like this).
    stranger = "\u2014 witness.example/w " + base64.b64encode(b"\xaa\xbb\xcc\xdd" + b"\x00" * 64).decode() + "\n"
    assert open_note(note + stranger, [ours.verifier]) == text
    # A line claiming to be our key (same name and id) with a wrong signature rejects the note.
    forged = "\u2014 dflab.test/log " + base64.b64encode(ours.verifier.key_id + b"\x00" * 64).decode() + "\n"
    with pytest.raises(IntegrityError, match="does not verify"):
        open_note(note + forged, [ours.verifier])


@pytest.mark.parametrize(
    "mutate,message",
    [
        (lambda n: n.replace("\n\n", "\n"), "no blank line"),
        (lambda n: n.replace("\u2014 ", "-- "), "malformed signature line"),
        (lambda n: n[:-3] + "!!\n", "not valid base64"),
        (lambda n: n[:-1], "no blank line"),
        (lambda n: n.replace("\n", "\r\n"), "control characters"),
        (lambda n: n.split("\n\n")[0] + "\n\n", "no signature lines"),
        (lambda n: n.replace("dflab.test/log\n1\n", "dflab.test/log\n2\n"), "does not verify"),
        (lambda n: n.split(" ")[0] + " dflab.test/log " + base64.b64encode(b"abc").decode() + "\n", "malformed|short"),
    ],
)
def test_malformed_or_forged_notes(mutate, message) -> None:
    ours = load_or_create_signer("dflab.test/log")
    note = ours.sign(Checkpoint("dflab.test/log", 1, b"\x01" * 32).text())
    with pytest.raises(IntegrityError, match=message):
        open_note(mutate(note), [ours.verifier])


def test_invalid_utf8_note() -> None:
    with pytest.raises(IntegrityError, match="UTF-8"):
        open_note(b"\xff\xfe\n\n\xe2\x80\x94 a b\n", [NoteVerifier.parse(EXAMPLE_VKEY)])


@pytest.mark.parametrize(
    "vkey,message",
    [
        ("example.com/foo+530d903a", "must look like"),
        ("example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", "does not match"),
        ("example.com/foo+530D903A+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", "8 lowercase hex"),
        ("example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2", "base64"),
        ("example.com/foo+530d903a+AkyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k=", "Ed25519"),
        ("+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", "must look like"),
    ],
)
def test_bad_verifier_keys(vkey, message) -> None:
    with pytest.raises(IntegrityError, match=message):
        NoteVerifier.parse(vkey)


@pytest.mark.parametrize(
    "text,message",
    [
        ("origin\n5\n", "origin, a tree size and a root"),
        ("origin\n05\n" + base64.b64encode(b"\x00" * 32).decode() + "\n", "not a decimal"),
        ("origin\n-1\n" + base64.b64encode(b"\x00" * 32).decode() + "\n", "not a decimal"),
        ("origin\n5\n" + base64.b64encode(b"\x00" * 31).decode() + "\n", "31 bytes"),
        ("origin\n5\nnot*base64\n", "base64"),
        ("\n5\n" + base64.b64encode(b"\x00" * 32).decode() + "\n", "origin is empty"),
        ("origin\n5\n" + base64.b64encode(b"\x00" * 32).decode(), "end with a newline"),
    ],
)
def test_bad_checkpoint_bodies(text, message) -> None:
    with pytest.raises(IntegrityError, match=message):
        parse_checkpoint_text(text)


def test_checkpoint_text_round_trip_and_origin_check() -> None:
    cp = Checkpoint("dflab.local/ledger", 0, hashlib.sha256(b"").digest(), ("ext one",))
    assert parse_checkpoint_text(cp.text()) == cp
    signer = load_or_create_signer("dflab.local/ledger")
    with pytest.raises(IntegrityError, match="expected 'other/log'"):
        open_checkpoint(signer.sign(cp.text()), signer.verifier, origin="other/log")


def test_signer_refuses_bad_text_and_names() -> None:
    signer = load_or_create_signer("dflab.test/log")
    with pytest.raises(UsageError):
        signer.sign("no final newline")
    with pytest.raises(UsageError):
        notes.NoteSigner("bad name", signer._key)
    with pytest.raises(UsageError):
        notes.NoteSigner("bad+name", signer._key)
