"""Messages of the Python API said in the command line's words (its flags)."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import re

#: Python keyword hints in messages, and the flags that say the same.
_FLAGS = (
    (re.compile(r"picks=\[([^\]]*)\]"), lambda m: "--picks " + ",".join(
        x.strip().strip("'\"") for x in m.group(1).split(","))),
    (re.compile(r"picks=(['\"])([^'\"]*)\1"), lambda m: f"--picks {m.group(2)}"),
    (re.compile(r"epoch_length=(?:None)?"), lambda m: "--epoch-length "),
    (re.compile(r"split=\{[^}]*\}|split="), lambda m: "--validation/--test"),
    (re.compile(r"check_units=False"), lambda m: "--no-unit-check"),
    (re.compile(r"overwrite=True"), lambda m: "--overwrite"),
    (re.compile(r"allow_truncated=True"), lambda m: "--allow-truncated"),
    (re.compile(r"reject_by_annotation=False"), lambda m: "--ignore-bad-annotations"),
    (re.compile(r"format= \((--\w+) on the command line\)"), lambda m: m.group(1)),
    (re.compile(r"pass start= to write_scoring"), lambda m: "pass --start"),
    (re.compile(r"pass mapping=\{[^}]*\}(?:, e\.g\. \{[^}]*\})?"),
     lambda m: "pass --mapping CODE=STAGE,... (e.g. '1=Wake,2=NREM,3=REM')"),
    (re.compile(r"add them to mapping"), lambda m: "add them to --mapping"),
    (re.compile(r"Pass layout= \(or --animals FILE on the command line\)"),
     lambda m: "Pass --animals FILE (a layout file)"),
    (re.compile(r"e\.g\. layout=(\{.*\})\."),
     lambda m: f"e.g. a JSON file {m.group(1)}."),
    (re.compile(r"pass emg= to choose one"), lambda m: "pass --emg to choose one"),
    (re.compile(r"report=True \(--report\)"), lambda m: "--report"),
    (re.compile(r"Train with compile=False"), lambda m: "Train without --compile"),
    (re.compile(r"use precision='float32'"), lambda m: "use --precision float32"),
)  # fmt: skip


def _for_cli(text):
    """Say a message's Python hints as the command line's flags."""
    for pattern, flag in _FLAGS:
        text = pattern.sub(flag, text)
    # "--no-unit-check (--no-unit-check)" and the like, once.
    text = re.sub(r"(--[\w-]+)( \(\1\)|, \1,)", r"\1", text)
    return re.sub(r" +", " ", text).replace("--epoch-length  ", "--epoch-length ")
