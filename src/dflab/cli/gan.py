"""`dflab gan train | sample`: a DCGAN for 64x64 faces of people who do not exist; samples are disclosed."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser("gan", help="GAN faces: train on aligned faces, sample people who do not exist")
    verbs = parser.add_subparsers(dest="gan_command", metavar="VERB")
    p = verbs.add_parser("train", help="train a DCGAN on one or more facesets")
    p.add_argument("faces", nargs="+", metavar="FACES", help="faceset folder(s) from `dflab swap extract`")
    p.add_argument("--out", required=True, metavar="MODEL")
    p.add_argument("--iterations", type=int, default=2000)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--preset", default="dcgan", choices=("tiny", "dcgan"))
    p.add_argument("--sample-every", type=int, default=250, help="disclosed sample grid every N iterations")
    p.add_argument("--save-every", type=int, default=500)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--resume", action="store_true")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_train)
    p = verbs.add_parser("sample", help="write N generated faces (each disclosed) into a new folder")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("-n", type=int, required=True)
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_sample)
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])


def grid_writer(grid, path, info: dict) -> None:
    from dflab.make.disclose import disclose_image
    from dflab.make.gan.sample import upscale

    side = grid.shape[0] * 2 if grid.shape[0] < 112 else grid.shape[0]
    disclose_image(upscale(grid, side), path, model=path.parent.name, method="dcgan-samples",
                   extra={"iteration": info["iteration"]})  # fmt: skip


def _train(args: argparse.Namespace) -> int:
    import torch

    from dflab.cli.common import print_json
    from dflab.errors import UsageError
    from dflab.make.gan.model import GAN_PRESETS
    from dflab.make.gan.train import GanTrainConfig, train_gan

    if args.threads < 1:
        raise UsageError("--threads must be at least 1")
    torch.set_num_threads(args.threads)
    config = GanTrainConfig(iterations=args.iterations, batch=args.batch, sample_every=args.sample_every,
                            save_every=args.save_every)  # fmt: skip
    summary = train_gan(args.faces, args.out, GAN_PRESETS[args.preset], config, resume=args.resume,
                        progress=not args.json, sample_writer=grid_writer)  # fmt: skip
    history = summary.pop("history")
    if args.json:
        print_json(summary)
    else:
        last = history[-1] if history else [0, None, None]
        print(f"{summary['model']}: iteration {summary['iteration']}, loss D {last[1]}, loss G {last[2]}, {summary['it_per_s']} it/s")
    return 0


def _sample(args: argparse.Namespace) -> int:
    from dflab.cli.common import print_json
    from dflab.make.gan.sample import sample

    summary = sample(args.model, args.n, args.out, seed=args.seed)
    if args.json:
        print_json(summary)
    else:
        print(f"{summary['output']}: {summary['samples']} disclosed faces, ledger records {summary['records']}")
    return 0
