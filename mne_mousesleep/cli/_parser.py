"""The command line's parser: one function per subcommand (and option group)."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import argparse
from pathlib import Path

from .._device import PRECISIONS, SCORING_PRECISIONS
from .._version import __version__
from ._commands import (
    _cmd_convert,
    _cmd_live,
    _cmd_models,
    _cmd_review,
    _cmd_score,
    _cmd_train,
)

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


def _parser():
    """Return the parser of ``mne-mousesleep`` and its subcommands."""
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
    _add_score(sub, common)
    _add_convert(sub, common)
    _add_train(sub, common)
    _add_models(sub, common)
    _add_review(sub, common)
    _add_live(sub, common)
    return parser


def _add_score(sub, common):
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
    for group in (
        _score_inputs,
        _score_steps,
        _score_outputs,
        _score_reports,
        _score_batch,
        _score_checks,
    ):
        group(p_score)
    p_score.set_defaults(func=_cmd_score)


def _score_inputs(p):
    """Add what ``score`` reads: recordings, channels, model."""
    p.add_argument(
        "inputs", nargs="*", type=Path, help="recording files, folders, BIDS roots"
    )
    p.add_argument(
        "--example", action="store_true", help="score the MiSleep example recording"
    )
    p.add_argument(
        "--picks",
        default=None,
        help="channel name(s), comma-separated in the model's input order "
        "(default: the one parietal EEG channel found by name)",
    )
    p.add_argument("--model", default=None, help="registry name or checkpoint path")


def _score_steps(p):
    """Add the cross-lab steps of ``score`` (gain, EMG, HMM), the published path."""
    p.add_argument(
        "--emg",
        default="auto",
        help="EMG channel for the muscle-tone rules (REM needs atonia); default "
        "auto: the one channel of type emg or named EMG; none: off",
    )
    p.add_argument(
        "--no-adapt",
        action="store_true",
        help="no gain step (score the EEG at the scale recorded)",
    )
    p.add_argument(
        "--no-smooth",
        action="store_true",
        help="no hidden Markov model over the epochs (Wake -> REM allowed)",
    )
    p.add_argument(
        "--smooth",
        choices=("hmm", "hsmm"),
        default="hsmm",
        help="the decoder over the epochs: hsmm (default: hidden semi-Markov model "
        "with the five labs' architecture prior: bounded REM bouts, REM only after "
        "an NREM run-up) or hmm (the earlier hidden Markov model)",
    )
    p.add_argument(
        "--published",
        action="store_true",
        help="the published method exactly: no gain step, no EMG, no smoothing",
    )


def _score_outputs(p):
    """Add where and in which formats ``score`` writes, and where it computes."""
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="write the annotations (.csv, .txt or .fif), or the scores in the "
        "one scoring tool's --format given",
    )
    p.add_argument(
        "--proba", type=Path, default=None, help="write the probabilities (.csv)"
    )
    p.add_argument(
        "--out-dir",
        type=Path,
        default=None,
        help="write the outputs here (default: next to each recording; for BIDS "
        "<root>/derivatives/mne-mousesleep), and scoring_summary.tsv",
    )
    p.add_argument(
        "--format",
        nargs="+",
        default=["csv"],
        choices=_OUTPUT_FORMATS,
        metavar="FORMAT",
        help="output formats (default csv): MNE annotations csv, fif, tsv, or "
        "a scoring tool's format for correcting the scores in that tool: "
        + ", ".join(_OUTPUT_FORMATS[3:]),
    )
    p.add_argument(
        "--device",
        default="auto",
        help="where the network runs: auto (CUDA, then MPS, then CPU), cpu, "
        "cuda, cuda:N or mps",
    )
    p.add_argument(
        "--precision",
        default="auto",
        choices=SCORING_PRECISIONS,
        help="arithmetic of the network: auto (default: bfloat16 where the CPU "
        "computes it natively, about twice as fast, close calls checked in "
        "float32; else float32), float32 (the published arithmetic, and that "
        "of --published), bfloat16",
    )


def _score_reports(p):
    """Add the reports of ``score``: per recording and over the study."""
    p.add_argument(
        "--report",
        action="store_true",
        help="also write <name>_report.html per recording (an mne.Report: "
        "hypnogram, statistics, spectra per stage, bouts to review) and "
        "study_report.html over all of them",
    )
    p.add_argument(
        "--lights-on",
        default=None,
        metavar="HH:MM",
        help="clock time of lights on (ZT0) for the reports: light/dark phases, ZT",
    )
    p.add_argument(
        "--groups",
        default=None,
        type=Path,
        help="CSV/TSV mapping recording, mouse or participant_id to a group "
        "(e.g. BIDS participants.tsv) for the study report",
    )


def _score_batch(p):
    """Add how ``score`` runs a batch and when it replaces outputs."""
    p.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="local worker processes, each scoring one recording (default: one "
        "per 2 CPU cores, at most 8, as one recording keeps 2 cores busy; 1 on "
        "a 2-core machine)",
    )
    p.add_argument(
        "--scheduler",
        default=None,
        help="Dask scheduler address (tcp://host:8786) to run the batch on",
    )
    p.add_argument("--merge-bouts", action="store_true", help="one annotation per bout")
    p.add_argument(
        "--animals",
        default=None,
        metavar="auto|FILE",
        help="recordings of several animals: auto finds each animal's EEG and EMG "
        "from the channel names (EEG09/EMG09, M1_EEG, ...); or a layout file "
        "(.json {animal: {eeg, emg}}, or .csv/.tsv with columns animal, eeg, "
        "emg). Each animal is scored alone into <name>_<animal>_* outputs",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace existing output files (without it, no output is ever "
        "replaced: stale or edited ones are kept and reported)",
    )


def _score_checks(p):
    """Add the input checks of ``score`` that a flag relaxes."""
    p.add_argument(
        "--ignore-bad-annotations",
        action="store_true",
        help="score epochs under BAD_* annotations of the recording too "
        "(default: left unscored, as MNE rejects them)",
    )
    p.add_argument(
        "--no-unit-check",
        action="store_true",
        help="score amplitudes that look like a unit error (e.g. microvolts "
        "stored as volts) instead of refusing them",
    )
    p.add_argument(
        "--allow-truncated",
        action="store_true",
        help="score EDF/BDF files shorter than their header says, as far as "
        "they go (default: such a file fails)",
    )


def _add_convert(sub, common):
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
    p_convert.add_argument(
        "--mapping",
        default=None,
        metavar="CODE=STAGE,...",
        help="the input's own codes or labels as stages, e.g. "
        "'1=Wake,2=NREM,3=REM' (a code given as '-' is ignored: '9=-')",
    )
    p_convert.add_argument(
        "--start",
        default=None,
        metavar="TIME",
        help="clock time of the first epoch, ISO 8601 (e.g. 2024-01-01T07:00:00), "
        "for outputs that need it (MiSleep) when the input has none",
    )
    p_convert.add_argument("--overwrite", action="store_true", help="replace OUTPUT")
    p_convert.set_defaults(func=_cmd_convert)


def _add_review(sub, common):
    p_review = sub.add_parser(
        "review",
        parents=[common],
        help="review and correct the scores of a recording in a window",
        description="Open a recording with its scoring (the batch's outputs next "
        "to it, or in --out-dir; else it is scored first) in the review window; "
        "ctrl+s saves <name>_reviewed.csv beside the outputs. With a folder, a "
        "list of its recordings opens (and is printed), least trustworthy first, "
        "with how many epochs of each were reviewed; Enter opens one. Needs the "
        "[gui] extra.",
    )
    p_review.add_argument("input", type=Path, help="a recording, or a folder of them")
    p_review.add_argument(
        "--out-dir", type=Path, default=None, help="where the outputs are"
    )
    p_review.add_argument("--picks", default=None, help="the EEG channel shown")
    p_review.add_argument(
        "--animals",
        default=None,
        metavar="auto|FILE",
        help="a recording of several animals (as scored with --animals): list its "
        "animals and open one at a time",
    )
    p_review.add_argument(
        "--emg", default="auto", help="the EMG channel shown (default: found)"
    )
    p_review.add_argument(
        "--lights-on", default=None, metavar="HH:MM", help="shade the dark phases"
    )
    p_review.add_argument(
        "--list",
        action="store_true",
        help="with a folder: print the list only (no window)",
    )
    p_review.set_defaults(func=_cmd_review)


def _add_train(sub, common):
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
        "--epoch-length",
        type=float,
        default=None,
        metavar="SECONDS",
        help="length of the scored epoch (default 10, or that of --init); e.g. 4 "
        "for a lab that scores in 4-s epochs: the model scores 4-s epochs",
    )
    p_train.add_argument(
        "--context",
        default=None,
        choices=("centred", "causal"),
        help="where the scored epoch lies in its window: centred (default, as "
        "published: one epoch of the future) or causal (the window ends with "
        "it: a model for live scoring)",
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
    _train_recipe(p_train)
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


def _add_live(sub, common):
    p_live = sub.add_parser(
        "live",
        parents=[common],
        help="score an LSL stream live, epoch by epoch (or replay a file as one)",
        description="Connect to a Lab Streaming Layer stream (MNE-LSL's StreamLSL) "
        "and score it as the samples arrive: one line per epoch, each decision "
        "appended to --out (flushed per epoch; a restart appends) and pushed to "
        "the LSL marker outlet --markers. With --replay, a recording is streamed "
        "with MNE-LSL's PlayerLSL and scored live, then compared with its offline "
        "scoring. Needs the [live] extra.",
    )
    where = p_live.add_mutually_exclusive_group(required=True)
    where.add_argument("--stream", default=None, help="the LSL stream's name")
    where.add_argument(
        "--replay", type=Path, default=None, metavar="FILE", help="a recording"
    )
    p_live.add_argument(
        "--speed",
        type=float,
        default=20.0,
        help="with --replay: times faster than real time (default 20)",
    )
    p_live.add_argument("--model", default=None, help="model name or file")
    p_live.add_argument("--picks", default=None, help="the EEG channel(s)")
    p_live.add_argument(
        "--emg", default="auto", help="the EMG channel (default: found; none: off)"
    )
    p_live.add_argument("--out", type=Path, default=None, help="CSV of the decisions")
    p_live.add_argument(
        "--markers", default=None, metavar="NAME", help="an LSL marker outlet"
    )
    p_live.add_argument(
        "--debounce",
        type=int,
        default=1,
        help="epochs a new stage must hold before it is announced (default 1)",
    )
    p_live.add_argument(
        "--duration", type=float, default=None, help="stop after so many seconds"
    )
    p_live.add_argument(
        "--no-steps",
        action="store_true",
        help="the network alone: no gain step, no hidden Markov model",
    )
    p_live.set_defaults(func=_cmd_live)


def _train_recipe(p):
    """Add the training recipe of ``train``: training epochs, windows, seed, split."""
    p.add_argument("--epochs", type=int, default=50, help="maximum training epochs")
    p.add_argument(
        "--windows-per-epoch",
        type=int,
        default=None,
        help="30-s windows drawn per training epoch (default: all training "
        "windows, as in Grieger et al. 2021)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="random seed of the split, the initial weights and the sampling "
        "(default 0)",
    )
    p.add_argument(
        "--validation",
        nargs="+",
        metavar="MOUSE",
        help="mice held out for validation (early stopping); with fewer than 3 "
        "mice, give the split this way (the rest is trained on)",
    )
    p.add_argument(
        "--test", nargs="+", metavar="MOUSE", help="mice held out for testing"
    )


def _add_models(sub, common):
    p_models = sub.add_parser(
        "models",
        parents=[common],
        help="list the models (one line each) or show a model card",
    )
    p_models.add_argument("name", nargs="?", help="show only this model")
    p_models.set_defaults(func=_cmd_models)
