"""The commands of the command line: each turns its flags into a call of the API."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import sys
import time
from pathlib import Path

from ._messages import _for_cli

_ANNOT_SUFFIXES = (".csv", ".txt", ".fif")


def _cmd_models(args):
    from .._fetch import REGISTRY, get_cache_dir
    from ..models._registry import MODELS, get_model_card, list_models

    if args.name:
        print(get_model_card(args.name))
        return 0
    cache = get_cache_dir()
    width = max(len(name) for name in list_models())
    for name in list_models():
        card = get_model_card(name)
        fname = REGISTRY[MODELS[name].weights]["fname"]
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
        if args.animals is not None:
            print(
                "error: --animals writes <name>_<animal>_* outputs per animal; use "
                "it without --out, --proba and --example (or score one animal "
                "with --picks and --emg)",
                file=sys.stderr,
            )
            return 2
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


def _options(args):
    """Return the :class:`~mne_mousesleep.ScoringOptions` of ``score``'s flags."""
    from ..scoring import ScoringOptions

    given = dict(
        model=args.model,
        picks=_picks(args.picks),
        merge_bouts=args.merge_bouts,
        reject_by_annotation=not args.ignore_bad_annotations,
        check_units=not args.no_unit_check,
        allow_truncated=args.allow_truncated,
        device=args.device,
    )
    if args.precision != "auto":  # --published is float32 unless asked
        given["precision"] = args.precision
    if args.published:  # no gain step, no EMG, no smoothing, whatever else
        return ScoringOptions.published(**given)
    emg = args.emg
    if isinstance(emg, str) and emg.lower() == "none":
        emg = None
    return ScoringOptions(
        adapt=None if args.no_adapt else "gain",
        emg=emg,
        smooth=None if args.no_smooth else args.smooth,
        **given,
    )


def _picks(arg):
    return arg.split(",") if arg is not None and "," in arg else arg


def _animals(arg):
    """Return ``animals`` of the API for ``--animals``: "auto", a file or None."""
    if arg is None or arg.lower() == "auto":
        return None if arg is None else "auto"
    return Path(arg)


def _cmd_score_batch(args):
    from ..batch import _whole_summary, score_files
    from ..io._write import _atomic, _check_writable

    if args.out_dir is not None:
        print(f"Outputs go to {args.out_dir}")
    else:
        print("Outputs go next to each recording (BIDS: <root>/derivatives)")
    summary = score_files(
        args.inputs,
        args.out_dir,
        options=_options(args),
        formats=args.format,
        overwrite=args.overwrite,
        n_jobs=args.jobs,
        client=args.scheduler,
        report=args.report,
        lights_on=args.lights_on,
        groups=args.groups,
        animals=_animals(args.animals),
        verbose=args.verbose,
    )
    _print_summary(summary)
    _print_problems(summary)
    n_failed = int((summary["status"] == "failed").sum())
    if args.out_dir is not None:
        path = args.out_dir / "scoring_summary.tsv"
        reason = _check_writable(args.out_dir)
        if reason is None:
            whole = _whole_summary(summary, args.out_dir)  # the whole study
            _atomic(path, lambda tmp: whole.to_csv(tmp, sep="\t", index=False))
            print(f"Wrote {path}")
        else:
            print(f"error: scoring_summary.tsv not written: {reason}", file=sys.stderr)
    counts = summary["status"].value_counts()
    words = [f"{counts.get(k, 0)} {k}" for k in ("scored", "skipped", "failed")]
    extra = {"stale": "stale (kept)", "edited": "edited (kept)", "busy": "busy"}
    words += [f"{counts[k]} {v}" for k, v in extra.items() if counts.get(k, 0)]
    print(", ".join(words))
    return min(n_failed, 255)


def _print_summary(summary, file=None):
    hidden = ("outputs", "error", "warnings", "note", "quality", "trust_reasons")
    cols = [c for c in summary.columns if c not in hidden]
    print(summary[cols].round(2).to_string(index=False), file=file or sys.stdout)


def _quality_to_say(row):
    """Whether a scored recording's input quality is worth a line."""
    return row["status"] == "scored" and (
        row.get("bad_epochs", 0) > 0 or row.get("input_warnings", 0) > 0
    )


def _print_problems(summary):
    """One line per recording that failed, was kept, or needs a look.

    What the input-quality notes of every such recording share (the same
    low sampling rate, say) is printed once, before them.
    """
    looked = [row for _, row in summary.iterrows() if _quality_to_say(row)]
    shared = []
    if len(looked) > 1:
        parts = [str(row["quality"]).split("; ") for row in looked]
        shared = [p for p in parts[0] if all(p in other for other in parts[1:])]
        if shared:
            print(f"input quality, all {len(looked)}: {'; '.join(shared)}")
    for _, row in summary.iterrows():
        name = row["file"]
        if isinstance(row.get("animal"), str):
            name = f"{name} [animal {row['animal']}]"
        if row["status"] == "failed":
            print(f"error: {name}: {_for_cli(row['error'])}", file=sys.stderr)
        elif row["note"] and row["status"] != "skipped":
            print(f"{row['status']}: {name}: {row['note']}")
        if _quality_to_say(row):
            own = [p for p in str(row["quality"]).split("; ") if p not in shared]
            if own:
                print(f"input quality: {name}: {'; '.join(own)}")
        if row["status"] == "scored" and row.get("trust", "ok") != "ok":
            print(f"trust: {name}: {row['trust']} ({row['trust_reasons']})")


def _check_one(args):
    """Check the flags of a single recording; return an exit status or None."""
    from ..io._write import _check_writable

    if args.example == bool(args.inputs) or len(args.inputs) > 1:
        print(
            "error: --out and --proba take one recording file or --example",
            file=sys.stderr,
        )
        return 2
    tool_format = _tool_format(args)
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
    for path in (p for p in (args.out, args.proba) if p is not None):
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
    return None


def _tool_format(args):
    return args.format[0] if args.format[0] not in ("csv", "fif", "tsv") else None


def _cmd_score_one(args):
    """Score one recording into ``--out`` / ``--proba`` (the batch's own path)."""
    from ..batch._one import _read_and_score
    from ..batch._write import stage_summary
    from ..datasets import fetch_misleep_example
    from ..hypnogram import to_annotations
    from ..io import write_scoring
    from ..scoring.quality import describe_quality

    status = _check_one(args)
    if status is not None:
        return status
    t0 = time.perf_counter()
    source = fetch_misleep_example() if args.example else args.inputs[0]
    raw, result = _read_and_score(source, _options(args), verbose=args.verbose)
    for message in result.quality["reader_warnings"]:
        print(f"warning: {source}: {message}", file=sys.stderr)
    proba = result.to_frame()
    annot = to_annotations(proba, merge_bouts=args.merge_bouts)
    elapsed = time.perf_counter() - t0
    tool_format = _tool_format(args)
    if args.out is not None and tool_format is not None:
        write_scoring(proba, args.out, format=tool_format, overwrite=True)
    elif args.out is not None:
        annot.save(args.out, overwrite=True, verbose=False)
    if args.proba is not None:
        proba.to_csv(args.proba)
    name = "MiSleep example" if args.example else source
    print(
        f"{name}: {result.n_epochs} epochs of {result.epoch_length:g} s "
        f"scored with {result.model} from {list(result.ch_names)} in {elapsed:.1f} s"
    )
    print(f"Input quality: {describe_quality(result.quality)}")
    # The trust verdict and its notes were logged once by the scoring.
    print(stage_summary(to_annotations(proba)).round(1).to_string())
    for path in (p for p in (args.out, args.proba) if p is not None):
        print(f"Wrote {path}")
    return 0


def _mapping(text):
    """Return ``--mapping 1=Wake,2=NREM,9=-`` as a dict (None without it).

    Codes that are whole numbers are given as int and as str (a format may
    hold either); ``-`` maps to None (ignored).
    """
    if text is None:
        return None
    out = {}
    for item in str(text).split(","):
        code, sep, stage = (part.strip() for part in item.partition("="))
        if not sep or not code or not stage:
            raise ValueError(
                f"--mapping takes CODE=STAGE pairs separated by commas, e.g. "
                f"'1=Wake,2=NREM,3=REM'; got {item!r} in {text!r}."
            )
        value = None if stage == "-" else stage
        out[code] = value
        if code.lstrip("-").isdigit():
            out[int(code)] = value
    return out


def _cmd_convert(args):
    import warnings

    from ..io import read_scoring, write_scoring

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
        mapping=_mapping(args.mapping),
        verbose=args.verbose,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        write_scoring(
            stages,
            args.output,
            format=args.to_format,
            epoch_length=args.out_epoch_length,
            start=args.start,
            overwrite=args.overwrite,
            verbose=args.verbose,
        )
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
    from ..io import _detect

    print(
        f"{args.input}: {len(stages)} epochs of {stages.attrs['epoch_length']:g} s "
        f"({stages.attrs['format']}) -> {args.output} "
        f"({args.to_format or _detect(args.output).name})"
    )
    return 0


def _cmd_train(args):
    from ..io._recording import _recording_suffix
    from ..training import train

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
        epoch_length=args.epoch_length,
        context=args.context,
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


def _cmd_review(args):
    """Review one recording in the window, or list a folder's recordings."""
    from ..batch._jobs import _find_jobs

    jobs = _find_jobs([args.input], args.out_dir, _animals(args.animals))
    if not jobs:
        print(f"error: no recording found in {args.input}", file=sys.stderr)
        return 1
    if args.input.is_dir() or len(jobs) > 1:  # a folder, or several animals
        rows = _study_rows(jobs)
        _print_study(rows)
        if args.list:
            return 0
        from ..gui import review_study

        review_study(rows, lambda row: _open_review(jobs[row["job"]], args, False))
        return 0
    job = jobs[0]
    if job.error is not None:
        print(f"error: {job.path}: {_for_cli(job.error)}", file=sys.stderr)
        return 1
    path = job.out / f"{job.stem}_reviewed.csv"
    stages = _open_review(job, args, True)
    print(f"Reviewed scoring: {path if path.is_file() else 'not saved'}")
    return 0 if stages is not None else 1


def _open_review(job, args, block):
    """Open a recording's review window with its batch scoring (else score it)."""
    from ..batch._one import _read_and_score
    from ..batch._staleness import _read_sidecar
    from ..gui import review
    from ..io import read_recording
    from ..scoring import ScoringOptions, ScoringResult
    from ..scoring.animals import _animal_options

    if job.error is not None:  # shown by the study list, never a dead list
        raise ValueError(job.error)
    info = _read_sidecar(job)
    if info is not None and "result" in info:
        raw, _ = read_recording(job.source)
        result = ScoringResult.from_dict(info["result"])
        print(f"Scoring: {job.sidecar}")
    else:
        print(f"No scoring of {job.stem} in {job.out}: scoring it first")
        options = ScoringOptions()
        if job.animal is not None:
            options = _animal_options(options, job.animal, job.channels)
        raw, result = _read_and_score(job.source, options)
    picks, emg = args.picks, None if str(args.emg).lower() == "none" else args.emg
    if job.animal is not None:  # the animal's own channels
        picks = picks or job.channels["eeg"]
        emg = job.channels["emg"] if emg == "auto" else emg
    return review(
        raw,
        result,
        picks=picks,
        emg=emg,
        path=job.out / f"{job.stem}_reviewed.csv",
        lights_on=args.lights_on,
        block=block,
    )


def _study_rows(jobs):
    """Return a folder's recordings for review, the least trustworthy first."""
    from ..batch._staleness import _read_sidecar

    order = {"unreliable": 0, "review": 1, "ok": 2}
    rows = []
    for ii, job in enumerate(jobs):
        info = _read_sidecar(job) or {}
        trust = (info.get("result") or {}).get("trust") or {}
        name = job.path.name
        if job.animal is not None:
            name = f"{name} [{job.animal}]"
        rows.append(
            dict(
                name=name,
                path=str(job.path),
                job=ii,
                verdict=trust.get("verdict"),
                reasons=[job.error] if job.error else list(trust.get("reasons") or []),
                reviewed=job.out / f"{job.stem}_reviewed.csv",
                sidecar=job.sidecar,
            )
        )
    return sorted(rows, key=lambda r: (order.get(r["verdict"], -1), r["name"]))


def _print_study(rows):
    """Print the study's recordings with their verdict and review."""
    from ..gui._session import _reviewed_counts

    print(f"{'recording':32s} {'trust':12s} reviewed epochs")
    for row in rows:
        counts = _reviewed_counts(row["reviewed"], row.get("sidecar"))
        if isinstance(counts, str):
            n = f"review refused: {counts}"
        else:
            n = "-" if counts is None else f"{counts[0]}/{counts[1]}"
        print(f"{row['name']:32s} {row['verdict'] or 'not scored':12s} {n}")
    print("Open one: mne-mousesleep review <recording> [--out-dir ...]")


def _cmd_live(args):
    from ..live._stream import replay, run_live

    picks = _picks(args.picks) if args.picks else None
    emg = None if args.emg == "none" else args.emg
    steps = dict(adapt=None, smooth=None) if args.no_steps else {}
    common = dict(
        model=args.model,
        picks=picks,
        emg=emg,
        out=args.out,
        markers=args.markers,
        debounce=args.debounce,
        verbose=args.verbose,
        **steps,
    )
    if args.replay is not None:
        decisions, summary = replay(args.replay, speed=args.speed, **common)
        _print_replay(summary)
        return 0
    print(f"Scoring the LSL stream {args.stream!r}; Ctrl+C stops.")
    decisions = run_live(args.stream, duration=args.duration, **common)
    print(f"{len(decisions)} epochs decided")
    return 0


def _print_replay(s):
    def pct(x):
        return "n/a" if x is None else f"{x:.1%}"

    def num(x, fmt):
        return "n/a" if x is None else format(x, fmt)

    print(
        f"Replayed at x{s['speed']:g}: {s['n_epochs']} epochs decided, "
        f"{s['n_scored']} scored (delay {s['delay_epochs']} epoch(s) after each)"
    )
    for reason, n in sorted(s.get("unscored", {}).items(), key=lambda x: -x[1]):
        why = ""
        if reason.startswith("warm-up"):
            why = (
                ": the gain step's running estimate of the amplifier's gain is "
                "used once it has that many clean epochs (offline, it sees the "
                "whole recording); --no-steps scores from the first full window"
            )
        print(f"Unscored: {n} epoch(s), {reason}{why}")
    print(f"Agreement with the offline scoring: {pct(s['agreement'])}")
    print(
        f"Decision latency after the epoch's end: median "
        f"{num(s['latency_median_s'], '.2f')} s, 95th percentile "
        f"{num(s['latency_p95_s'], '.2f')} s (recording time); compute "
        f"{num(s['compute_median_ms'], '.1f')} ms per decision (median)"
    )
    print(
        f"REM onsets ({s['rem_bouts']} REM bouts of the offline scoring): "
        f"sensitivity {pct(s['rem_sensitivity'])}, precision "
        f"{pct(s['rem_precision'])}, delay {num(s['rem_delay_median_s'], '.0f')} s "
        f"(median), false REM triggers {num(s['false_rem_per_hour'], '.2f')} per hour"
    )
