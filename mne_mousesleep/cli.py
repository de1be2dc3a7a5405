"""The command line: ``mne-mousesleep score``, ``convert``, ``train``, ``models``."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import argparse
import sys
import time
from pathlib import Path

from ._device import PRECISIONS

# The names of mne_mousesleep.models._architectures.ARCHITECTURES, without
# importing torch for the command line's help (a test checks they agree).
_ARCHITECTURES = (
    "3conv_pool",
    "8conv_2fc",
    "akada-rule",
    "akada-stacking",
    "akada-multimodal",
    "resnet",
    "multiexit",
)

_ANNOT_SUFFIXES = (".csv", ".txt", ".fif")
# The formats of mne_mousesleep.io (a test checks they agree).
_SCORING_FORMATS = (
    "accusleep",
    "accusleepy",
    "annotations",
    "bids",
    "edf",
    "elan",
    "faster2",
    "intellisleepscorer",
    "misleep",
    "remidx",
    "somnotate",
    "spindle",
    "table",
    "visbrain",
    "visbrain-sample",
    "yasa",
)
# mne_mousesleep.batch.FORMATS (a test checks they agree).
_OUTPUT_FORMATS = ("csv", "fif", "tsv") + _SCORING_FORMATS


def _cmd_models(args):
    from ._fetch import REGISTRY, get_cache_dir
    from .models import get_model_card, list_models
    from .models._registry import MODELS

    if args.name:
        print(get_model_card(args.name))
        return 0
    cache = get_cache_dir()
    width = max(len(name) for name in list_models())
    for name in list_models():
        card = get_model_card(name)
        fname = REGISTRY[MODELS[name][0]]["fname"]
        cached = "cached" if (cache / fname).is_file() else "not cached"
        channels = ", ".join(card.channels)
        print(
            f"{name:<{width}}  {card.n_classes} classes, {channels}, "
            f"{card.sfreq:g} Hz  [{cached}]"
        )
    print(
        "\nmne-mousesleep models NAME shows a model card; weights are cached in "
        f"{cache}."
    )
    return 0


def _cmd_score(args):
    if args.example or args.out is not None or args.proba is not None:
        if args.report:
            print(
                "error: --report writes a report per recording and a study report; "
                "use it without --out, --proba and --example",
                file=sys.stderr,
            )
            return 2
        return _cmd_score_one(args)
    if not args.inputs:
        print("error: give recording files, folders or --example", file=sys.stderr)
        return 2
    return _cmd_score_batch(args)


def _steps(args):
    """Return the keyword arguments of the cross-lab steps (adapt, emg, smooth)."""
    published = args.published
    emg = args.emg
    if published or (isinstance(emg, str) and emg.lower() == "none"):
        emg = None
    return dict(
        adapt=None if published or args.no_adapt else "gain",
        emg=emg,
        smooth=None if published or args.no_smooth else "hmm",
    )


def _print_trust(trust, prefix="Trust"):
    text = f"{prefix}: {trust['verdict']}"
    if trust["reasons"]:
        text += " (" + "; ".join(trust["reasons"]) + ")"
    print(text)


def _picks(arg):
    return arg.split(",") if arg is not None and "," in arg else arg


def _cmd_score_batch(args):
    from .batch import _atomic, _check_writable, _print_summary, score_files

    if args.out_dir is not None:
        print(f"Outputs go to {args.out_dir}")
    else:
        print("Outputs go next to each recording (BIDS: <root>/derivatives)")
    summary = score_files(
        args.inputs,
        args.out_dir,
        picks=_picks(args.picks),
        model=args.model,
        **_steps(args),
        merge_bouts=args.merge_bouts,
        formats=args.format,
        overwrite=args.overwrite,
        n_jobs=args.jobs,
        client=args.scheduler,
        allow_truncated=args.allow_truncated,
        reject_by_annotation=not args.ignore_bad_annotations,
        check_units=not args.no_unit_check,
        report=args.report,
        lights_on=args.lights_on,
        groups=args.groups,
        device=args.device,
        verbose=args.verbose,
    )
    _print_summary(summary)
    for _, row in summary.iterrows():
        if row["status"] == "failed":
            print(f"error: {row['file']}: {row['error']}", file=sys.stderr)
        elif row["note"] and row["status"] != "skipped":
            print(f"{row['status']}: {row['file']}: {row['note']}")
        if row["status"] == "scored" and (
            row.get("bad_epochs", 0) > 0 or row.get("input_warnings", 0) > 0
        ):
            print(f"input quality: {row['file']}: {row['quality']}")
        if row["status"] == "scored" and row.get("trust", "ok") != "ok":
            print(f"trust: {row['file']}: {row['trust']} ({row['trust_reasons']})")
    n_failed = int((summary["status"] == "failed").sum())
    if args.out_dir is not None:
        path = args.out_dir / "scoring_summary.tsv"
        reason = _check_writable(args.out_dir)
        if reason is None:
            _atomic(path, lambda tmp: summary.to_csv(tmp, sep="\t", index=False))
            print(f"Wrote {path}")
        else:
            print(f"error: scoring_summary.tsv not written: {reason}", file=sys.stderr)
    counts = summary["status"].value_counts()
    words = [f"{counts.get(k, 0)} {k}" for k in ("scored", "skipped", "failed")]
    extra = {"stale": "stale (kept)", "edited": "edited (kept)", "busy": "busy"}
    words += [f"{counts[k]} {v}" for k, v in extra.items() if counts.get(k, 0)]
    print(", ".join(words))
    return min(n_failed, 255)


def _cmd_score_one(args):
    from . import predict_proba, to_annotations
    from .batch import _check_writable, _read_recording, stage_summary
    from .datasets import fetch_misleep_example
    from .quality import describe_quality

    if args.example == bool(args.inputs) or len(args.inputs) > 1:
        print(
            "error: --out and --proba take one recording file or --example",
            file=sys.stderr,
        )
        return 2
    args.fname = args.inputs[0] if args.inputs else None
    outputs = [p for p in (args.out, args.proba) if p is not None]
    tool_format = (
        args.format[0] if args.format[0] not in ("csv", "fif", "tsv") else None
    )
    if args.out is not None and len(args.format) > 1:
        print("error: --out takes one --format", file=sys.stderr)
        return 2
    if (
        args.out is not None
        and tool_format is None
        and args.out.suffix.lower() not in _ANNOT_SUFFIXES
    ):
        print(
            f"error: --out must end with one of {_ANNOT_SUFFIXES}, got {args.out}",
            file=sys.stderr,
        )
        return 2
    for path in outputs:
        if path.exists() and not args.overwrite:
            print(
                f"error: {path} exists; pass --overwrite to replace it",
                file=sys.stderr,
            )
            return 1
        reason = _check_writable(path.parent)  # before scoring, not after
        if reason is not None:
            print(f"error: {reason}", file=sys.stderr)
            return 1
    t0 = time.perf_counter()
    if args.example:
        raw = fetch_misleep_example()
    else:
        raw, reader_warnings = _read_recording(
            args.fname, allow_truncated=args.allow_truncated
        )
        for message in reader_warnings:
            print(f"warning: {args.fname}: {message}", file=sys.stderr)
    picks = _picks(args.picks)
    proba = predict_proba(
        raw,
        picks,
        model=args.model,
        **_steps(args),
        reject_by_annotation=not args.ignore_bad_annotations,
        check_units=not args.no_unit_check,
        device=args.device,
        verbose=args.verbose,
    )
    quality = proba.attrs["quality"]
    quality["reader_warnings"] = [] if args.example else reader_warnings
    annot = to_annotations(proba, merge_bouts=args.merge_bouts)
    elapsed = time.perf_counter() - t0
    if args.out is not None and tool_format is not None:
        from .io import write_scoring

        write_scoring(proba, args.out, format=tool_format, overwrite=True)
    elif args.out is not None:
        annot.save(args.out, overwrite=True, verbose=False)
    if args.proba is not None:
        proba.to_csv(args.proba)
    source = "MiSleep example" if args.example else args.fname
    print(
        f"{source}: {len(proba)} epochs of {proba.attrs['epoch_length']:g} s "
        f"scored with {proba.attrs['model']} from {proba.attrs['ch_names']} "
        f"in {elapsed:.1f} s"
    )
    print(f"Input quality: {describe_quality(quality)}")
    _print_trust(proba.attrs["trust"])
    for note in proba.attrs["trust"]["notes"]:
        print(f"  note: {note}")
    print(stage_summary(to_annotations(proba)).round(1).to_string())
    for path in outputs:
        print(f"Wrote {path}")
    return 0


def _cmd_convert(args):
    import warnings

    from .io import read_scoring, write_scoring

    if args.output.exists() and not args.overwrite:
        print(
            f"error: {args.output} exists; pass --overwrite to replace it",
            file=sys.stderr,
        )
        return 1
    stages = read_scoring(
        args.input,
        format=args.from_format,
        epoch_length=args.epoch_length,
        verbose=args.verbose,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        write_scoring(
            stages,
            args.output,
            format=args.to_format,
            epoch_length=args.out_epoch_length,
            overwrite=args.overwrite,
            verbose=args.verbose,
        )
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
    from .io import _detect

    print(
        f"{args.input}: {len(stages)} epochs of {stages.attrs['epoch_length']:g} s "
        f"({stages.attrs['format']}) -> {args.output} "
        f"({args.to_format or _detect(args.output).name})"
    )
    return 0


def _cmd_train(args):
    from .batch import _recording_suffix
    from .training import train

    folder = Path(args.folder)
    # Files MNE reads (training takes Raw files, not MiSleep .mat).
    files = sorted(
        p for p in folder.iterdir() if _recording_suffix(p) not in (None, ".mat")
    )
    if not files:
        print(f"error: no recording found in {folder}", file=sys.stderr)
        return 2
    if args.out.exists() and not args.overwrite:
        print(
            f"error: {args.out} exists; pass --overwrite to replace it", file=sys.stderr
        )
        return 1
    picks = args.picks.split(",") if "," in args.picks else args.picks
    # One mouse per file unless the file name says otherwise ("M01_day1.edf").
    mice = [p.name.split("_")[0].split(".")[0] for p in files]
    split = None
    if args.validation or args.test:
        held = set(args.validation or []) | set(args.test or [])
        unknown = sorted(held - set(mice))
        if unknown:
            print(
                f"error: --validation/--test name mice {unknown} not among the "
                f"mice of {folder}: {sorted(set(mice))}",
                file=sys.stderr,
            )
            return 2
        split = dict(
            train=sorted(set(mice) - held),
            validation=list(args.validation or []),
            test=list(args.test or []),
        )
    model = train(
        [str(p) for p in files],
        picks=picks,
        n_classes=args.classes,
        architecture=args.architecture,
        mice=mice,
        split=split,
        init=args.init,
        freeze_features=args.freeze_features,
        max_epochs=args.epochs,
        min_epochs=min(args.epochs, 12),
        windows_per_epoch=args.windows_per_epoch,
        seed=args.seed,
        name=args.out.stem,
        device=args.device,
        precision=args.precision,
        compile=args.compile,
        verbose=args.verbose,
    )
    model.save(args.out, overwrite=True)
    print(model.card)
    print(f"Wrote {args.out}")
    return 0


def _parser():
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="mne-mousesleep",
        description="Automated sleep scoring of mouse EEG (Grieger et al. 2021).",
    )
    parser.add_argument(
        "--version", action="version", version=f"mne-mousesleep {__version__}"
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--verbose",
        default="info",
        help="MNE log level: debug, info (default), warning or error",
    )
    common.add_argument(
        "--debug",
        action="store_true",
        help="show the full traceback of an error (and debug messages)",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p_score = sub.add_parser(
        "score",
        parents=[common],
        help="score recordings in 10-s epochs",
        description="Score recordings (any file MNE reads, or a MiSleep .mat), "
        "folders of them or BIDS datasets. Each recording gets its annotations, "
        "a stage summary (_stages.tsv), BIDS events for BIDS input, and a "
        "_scoring.json sidecar; up-to-date outputs are skipped. The exit status "
        "is the number of recordings that failed. With --out or --proba, score "
        "one recording into those files.",
    )
    p_score.add_argument(
        "inputs", nargs="*", type=Path, help="recording files, folders, BIDS roots"
    )
    p_score.add_argument(
        "--example", action="store_true", help="score the MiSleep example recording"
    )
    p_score.add_argument(
        "--picks",
        default=None,
        help="channel name(s), comma-separated in the model's input order "
        "(default: the one parietal EEG channel found by name)",
    )
    p_score.add_argument(
        "--model", default=None, help="registry name or checkpoint path"
    )
    p_score.add_argument(
        "--emg",
        default="auto",
        help="EMG channel for the muscle-tone rules (REM needs atonia); default "
        "auto: the one channel of type emg or named EMG; none: off",
    )
    p_score.add_argument(
        "--no-adapt",
        action="store_true",
        help="no gain step (score the EEG at the scale recorded)",
    )
    p_score.add_argument(
        "--no-smooth",
        action="store_true",
        help="no hidden Markov model over the epochs (Wake -> REM allowed)",
    )
    p_score.add_argument(
        "--published",
        action="store_true",
        help="the published method exactly: no gain step, no EMG, no smoothing",
    )
    p_score.add_argument(
        "--out",
        type=Path,
        default=None,
        help="write the annotations (.csv, .txt or .fif), or the scores in the "
        "one scoring tool's --format given",
    )
    p_score.add_argument(
        "--proba", type=Path, default=None, help="write the probabilities (.csv)"
    )
    p_score.add_argument(
        "--out-dir",
        type=Path,
        default=None,
        help="write the outputs here (default: next to each recording; for BIDS "
        "<root>/derivatives/mne-mousesleep), and scoring_summary.tsv",
    )
    p_score.add_argument(
        "--format",
        nargs="+",
        default=["csv"],
        choices=_OUTPUT_FORMATS,
        metavar="FORMAT",
        help="output formats (default csv): MNE annotations csv, fif, tsv, or "
        "a scoring tool's format for correcting the scores in that tool: "
        + ", ".join(_OUTPUT_FORMATS[3:]),
    )
    p_score.add_argument(
        "--device",
        default="auto",
        help="where the network runs: auto (CUDA, then MPS, then CPU), cpu, "
        "cuda, cuda:N or mps",
    )
    p_score.add_argument(
        "--report",
        action="store_true",
        help="also write <name>_report.html per recording (an mne.Report: "
        "hypnogram, statistics, spectra per stage, bouts to review) and "
        "study_report.html over all of them",
    )
    p_score.add_argument(
        "--lights-on",
        default=None,
        metavar="HH:MM",
        help="clock time of lights on (ZT0) for the reports: light/dark phases, ZT",
    )
    p_score.add_argument(
        "--groups",
        default=None,
        type=Path,
        help="CSV/TSV mapping recording, mouse or participant_id to a group "
        "(e.g. BIDS participants.tsv) for the study report",
    )
    p_score.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="local worker processes, each scoring one recording (default: one "
        "per 2 CPU cores, at most 8, as one recording keeps 2 cores busy; 1 on "
        "a 2-core machine)",
    )
    p_score.add_argument(
        "--scheduler",
        default=None,
        help="Dask scheduler address (tcp://host:8786) to run the batch on",
    )
    p_score.add_argument(
        "--merge-bouts", action="store_true", help="one annotation per bout"
    )
    p_score.add_argument(
        "--overwrite",
        action="store_true",
        help="replace existing output files (without it, no output is ever "
        "replaced: stale or edited ones are kept and reported)",
    )
    p_score.add_argument(
        "--ignore-bad-annotations",
        action="store_true",
        help="score epochs under BAD_* annotations of the recording too "
        "(default: left unscored, as MNE rejects them)",
    )
    p_score.add_argument(
        "--no-unit-check",
        action="store_true",
        help="score amplitudes that look like a unit error (e.g. microvolts "
        "stored as volts) instead of refusing them",
    )
    p_score.add_argument(
        "--allow-truncated",
        action="store_true",
        help="score EDF/BDF files shorter than their header says, as far as "
        "they go (default: such a file fails)",
    )
    p_score.set_defaults(func=_cmd_score)

    p_convert = sub.add_parser(
        "convert",
        parents=[common],
        help="convert a scoring file between tools' formats",
        description="Read a scoring in one tool's format and write it in "
        "another's (formats: " + ", ".join(_SCORING_FORMATS) + "). Formats "
        "are detected from the content and name where unambiguous. Stages the "
        "output cannot hold are merged by the documented rule, with a warning.",
    )
    p_convert.add_argument("input", type=Path, help="scoring file to read")
    p_convert.add_argument("output", type=Path, help="scoring file to write")
    p_convert.add_argument(
        "--from",
        dest="from_format",
        default=None,
        choices=_SCORING_FORMATS,
        metavar="FORMAT",
        help="format of the input (default: detected)",
    )
    p_convert.add_argument(
        "--to",
        dest="to_format",
        default=None,
        choices=_SCORING_FORMATS,
        metavar="FORMAT",
        help="format of the output (default: from its name)",
    )
    p_convert.add_argument(
        "--epoch-length",
        type=float,
        default=None,
        metavar="S",
        help="epoch length of the input in seconds (needed for AccuSleep and "
        "AccuSleePy files; for bout formats, the epochs to cut into, default 10)",
    )
    p_convert.add_argument(
        "--out-epoch-length",
        type=float,
        default=None,
        metavar="S",
        help="write epochs of this length (majority rule; default: the input's, "
        "or the output tool's fixed length)",
    )
    p_convert.add_argument("--overwrite", action="store_true", help="replace OUTPUT")
    p_convert.set_defaults(func=_cmd_convert)

    p_train = sub.add_parser(
        "train",
        parents=[common],
        help="train or fine-tune a scorer on a folder of scored recordings",
        description="Train on every recording of a folder (files MNE reads, with "
        "stage annotations); the mouse of a file is the part of its name before "
        "the first underscore. The split is by mouse.",
    )
    p_train.add_argument("folder", type=Path, help="folder of scored recordings")
    p_train.add_argument("--out", type=Path, required=True, help="model file (.pt)")
    p_train.add_argument(
        "--picks", default="EEG_PR", help="input channel(s), comma-separated"
    )
    p_train.add_argument(
        "--classes",
        type=int,
        choices=(3, 5),
        default=5,
        help="5 (Wake, REM, NREM, pre-REM, artifact) or 3 (Wake, REM, NREM; "
        "pre-REM counted as NREM); default 5",
    )
    p_train.add_argument(
        "--architecture",
        default=None,
        choices=_ARCHITECTURES,
        help="network to train (default 3conv_pool, or that of --init)",
    )
    p_train.add_argument(
        "--init", default=None, help="fine-tune this model (name or file)"
    )
    p_train.add_argument(
        "--freeze-features", action="store_true", help="train only the classifier"
    )
    p_train.add_argument(
        "--epochs", type=int, default=50, help="maximum training epochs"
    )
    p_train.add_argument(
        "--windows-per-epoch",
        type=int,
        default=None,
        help="30-s windows drawn per training epoch (default: all training "
        "windows, as in Grieger et al. 2021)",
    )
    p_train.add_argument(
        "--seed",
        type=int,
        default=0,
        help="random seed of the split, the initial weights and the sampling "
        "(default 0)",
    )
    p_train.add_argument(
        "--validation",
        nargs="+",
        metavar="MOUSE",
        help="mice held out for validation (early stopping); with fewer than 3 "
        "mice, give the split this way (the rest is trained on)",
    )
    p_train.add_argument(
        "--test", nargs="+", metavar="MOUSE", help="mice held out for testing"
    )
    p_train.add_argument(
        "--device",
        default="auto",
        help="where the network trains: auto (CUDA, then MPS, then CPU), cpu, "
        "cuda, cuda:N or mps",
    )
    p_train.add_argument(
        "--precision",
        default="auto",
        choices=PRECISIONS,
        help="arithmetic of the training steps: auto (default: bfloat16 where "
        "the CPU or GPU computes it natively, else float32), float32, bfloat16, "
        "float16 (CUDA only)",
    )
    p_train.add_argument(
        "--compile",
        action="store_true",
        help="run the training steps through torch.compile (1.15-1.2x faster "
        "in float32 on CPUs; needs a C++ compiler)",
    )
    p_train.add_argument("--overwrite", action="store_true", help="replace --out")
    p_train.set_defaults(func=_cmd_train)

    p_models = sub.add_parser(
        "models",
        parents=[common],
        help="list the models (one line each) or show a model card",
    )
    p_models.add_argument("name", nargs="?", help="show only this model")
    p_models.set_defaults(func=_cmd_models)
    return parser


def main(argv=None):
    """Run the command-line interface.

    Parameters
    ----------
    argv : list of str | None
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    code : int
        Exit status: 0 on success; for ``score`` of several recordings, the
        number of recordings that failed (at most 255); otherwise 1 on a
        failed scoring, a refused overwrite or any other error (one line on
        standard error naming the problem; ``--debug`` shows the traceback);
        2 on a usage error; 130 when interrupted.
    """
    args = _parser().parse_args(argv)
    if args.debug:
        args.verbose = "debug"
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # noqa: BLE001 (one line for the user)
        if args.debug:
            raise
        print(f"error: {_one_line(err)}", file=sys.stderr)
        if not isinstance(err, ValueError | TypeError | OSError):
            print(
                "This looks like a bug; run again with --debug and report the "
                "traceback.",
                file=sys.stderr,
            )
        return 1


def _one_line(err):
    """Return the message of an exception for a person (no traceback)."""
    text = str(err).strip() or type(err).__name__
    if isinstance(err, OSError) and err.filename and str(err.filename) not in text:
        text = f"{err.filename}: {text}"
    if isinstance(err, PermissionError):
        text += " (check the permissions of the file or folder)"
    if not isinstance(err, ValueError | TypeError | OSError):
        text = f"{type(err).__name__}: {text}"
    return " ".join(text.split())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
