"""`dflab swap extract | train | convert`: the classic face swap; every output is disclosed (make/disclose)."""

from __future__ import annotations

import argparse
import sys


def register(subparsers) -> None:
    parser = subparsers.add_parser("swap", help="face swap: extract facesets, train a shared-encoder model, convert video")
    verbs = parser.add_subparsers(dest="swap_command", metavar="VERB")

    p = verbs.add_parser("extract", help="aligned face crops of one person from a video or a folder")
    p.add_argument("source", metavar="VIDEO_OR_DIR")
    p.add_argument("--out", required=True, metavar="FACESET")
    p.add_argument("--size", type=int, default=256, choices=(64, 128, 256), help="crop size in pixels (default 256)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_extract)

    p = verbs.add_parser("train", help="train one shared encoder and a decoder per person")
    p.add_argument("faceset_a", metavar="FACESET_A")
    p.add_argument("faceset_b", metavar="FACESET_B")
    p.add_argument("--out", required=True, metavar="MODEL")
    p.add_argument("--size", type=int, default=64, choices=(64, 128))
    p.add_argument("--iterations", type=int, default=1000, help="total iterations to reach (resume continues to it)")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--preset", default="small", choices=("tiny", "small", "large"), help="model width")
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--save-every", type=int, default=500)
    p.add_argument("--preview-every", type=int, default=250, help="disclosed preview grid every N iterations (0 = end only)")
    p.add_argument("--threads", type=int, default=1, help="CPU threads (1 is fastest on a busy machine)")
    p.add_argument("--resume", action="store_true", help="continue the model in --out from its checkpoint")
    p.add_argument("--init-from", default=None, metavar="MODEL",
                   help="start from another model's weights (a pretrained model), with a fresh schedule")
    p.add_argument("--consent", action="append", default=[], metavar="FILE",
                   help="a signed consent statement (dflab consent create) of a person whose face is used; repeat "
                        "for each person. Without one, the outputs' manifests and ledger records say 'consent: not recorded'")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_train)

    p = verbs.add_parser("convert", help="swap the face in a video or photo (output disclosed)")
    p.add_argument("source", metavar="VIDEO_OR_IMAGE")
    p.add_argument("--model", required=True)
    p.add_argument("--to", required=True, metavar="B", help="the person to draw: A, B or an identity name")
    p.add_argument("--out", required=True)
    p.add_argument("--size", type=int, default=None, help="must match the model's size when given")
    p.add_argument("--blend", default="feather", choices=("feather", "seamless"))
    p.add_argument("--consent", action="append", default=[], metavar="FILE",
                   help="a signed consent statement (dflab consent create) of a person whose face is used; repeat "
                        "for each person. Without one, the outputs' manifests and ledger records say 'consent: not recorded'")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_convert)
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])


def _report(args: argparse.Namespace, summary: dict, line: str) -> int:
    from dflab.cli.common import print_json

    if args.json:
        print_json(summary)
    else:
        print(line)
    return 0


def _extract(args: argparse.Namespace) -> int:
    from dflab.make.swap.extract import extract_faceset

    summary = extract_faceset(args.source, args.out, size=args.size)
    return _report(args, summary, f"{summary['faceset']}: {summary['faces']} faces at {summary['size']} px "
                                  f"(dropped {summary['dropped']})")  # fmt: skip


def preview_writer(grid, path, info: dict, consent: list[dict] | None = None) -> None:
    """Training previews show generated faces, so they leave through disclosure like any output."""
    from dflab.make.disclose import disclose_image

    sources = [s["path"] for who in ("a", "b") for s in info["sources"].get(who, []) if s.get("path")]
    disclose_image(grid, path, sources=sources[:2], model=path.parent.name, method="faceswap-preview",
                   extra={"iteration": info["iteration"], "columns": "A, A->A, A->B, B, B->B, B->A"},
                   consent=consent)  # fmt: skip


def _train(args: argparse.Namespace) -> int:
    import functools

    import torch

    from dflab.errors import UsageError
    from dflab.make.swap.model import preset_config
    from dflab.make.swap.train import TrainConfig, train_swap
    from dflab.provenance.consent import ledger_consent, require_consent

    consent = require_consent(args.consent)  # a statement that does not verify stops here, before any work

    if args.threads < 1:
        raise UsageError("--threads must be at least 1")
    torch.set_num_threads(args.threads)
    config = TrainConfig(iterations=args.iterations, batch=args.batch, lr=args.lr, save_every=args.save_every,
                         preview_every=args.preview_every, warmup=min(100, max(1, args.iterations // 10)))  # fmt: skip
    summary = train_swap(args.faceset_a, args.faceset_b, args.out, preset_config(args.preset, args.size), config,
                         resume=args.resume, progress=not args.json, init_from=args.init_from,
                         preview_writer=functools.partial(preview_writer, consent=consent))  # fmt: skip
    summary.pop("history")
    summary["consent"] = ledger_consent(consent)
    return _report(args, summary, f"{summary['model']}: iteration {summary['iteration']}, loss A {summary['loss_a']}, "
                                  f"loss B {summary['loss_b']}, {summary['it_per_s']} it/s")  # fmt: skip


def _convert(args: argparse.Namespace) -> int:
    from dflab.make.swap.convert import convert
    from dflab.provenance.consent import require_consent

    consent = require_consent(args.consent)  # a statement that does not verify stops here, before any work
    summary = convert(args.source, args.model, args.out, to=args.to, size=args.size, blend=args.blend,
                      progress=not args.json, consent=consent)  # fmt: skip
    print(f"dflab swap: disclosed as synthetic, ledger record {summary['record']}", file=sys.stderr)
    return _report(args, summary, f"{summary['output']}: {summary['faces']}/{summary['frames_total']} frames swapped "
                                  f"to {summary['to']}; ledger record {summary['record']}")  # fmt: skip
