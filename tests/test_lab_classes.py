"""A lab's own classes: training, the steps by role, and every output."""

import json

import numpy as np
import pytest
from conftest import SHORT_TRAINING

import mne_mousesleep as mms
from mne_mousesleep.datasets import simulate_recording
from mne_mousesleep.scoring._roles import _Fold

ROLES = {"active Wake": "wake"}
CLASSES = {"Wake": "wake", "active Wake": "wake", "NREM": "NREM", "REM": "REM"}
LAB = dict(SHORT_TRAINING, picks=["EEG_PR"], classes=CLASSES, max_epochs=2)


@pytest.fixture(scope="module")
def active_mice():
    """Five simulated mice of 20 min whose experts score active Wake apart."""
    return [
        simulate_recording(1200.0, 128.0, seed=60 + m, label_active_wake=True)
        for m in range(5)
    ]


@pytest.fixture(scope="module")
def lab_model(active_mice):
    mapping = {
        "Sleep stage W": "Wake",
        "Sleep stage active Wake": "active Wake",
        "Sleep stage NREM": "NREM",
        "Sleep stage pre-REM": "NREM",  # this lab scores no pre-REM
        "Sleep stage R": "REM",
        "BAD_artifact": "unscored",  # not learnt from
    }
    return mms.train(active_mice, mapping=mapping, **LAB)


def test_classes_and_roles_checked(active_mice):
    """Classes without roles, stages given other roles, labels the model lacks."""
    with pytest.raises(ValueError, match=r"give each its role, e\.g\. classes="):
        mms.train(active_mice, **{**LAB, "classes": ["Wake", "active Wake"]})
    with pytest.raises(ValueError, match="gives the stages"):
        mms.train(active_mice, **{**LAB, "classes": {"Wake": "REM", "NREM": "NREM"}})
    with pytest.raises(ValueError, match="roles are"):
        mms.train(active_mice, **{**LAB, "classes": {"seizure": "fit", "NREM": "NREM"}})
    # Expert labels of a class the model does not have: named, with the fix.
    with pytest.raises(ValueError, match=r"recordings\[0\] has expert labels") as err:
        mms.train(active_mice, **LAB)  # pre-REM and artifact not mapped
    assert "'pre-REM'" in str(err.value) and "mapping" in str(err.value)
    with pytest.raises(ValueError, match="Sleep stage active Wake"):
        mms.train(active_mice, **{**LAB, "classes": None})  # no role: unknown


def test_fold_and_unfold():
    """The steps see stages; classes keep their shares of their stage."""
    fold = _Fold(["Wake", "active Wake", "NREM", "REM"], ROLES)
    assert fold.stages == ["Wake", "NREM", "REM"] and not fold.plain
    before = np.array([[0.2, 0.6, 0.1, 0.1], [0.0, 0.0, 0.5, 0.5]])
    np.testing.assert_allclose(fold.fold(before), [[0.8, 0.1, 0.1], [0, 0.5, 0.5]])
    after = np.array([[0.4, 0.5, 0.1], [0.5, 0.5, 0.0]])
    out = fold.unfold(before, after)
    np.testing.assert_allclose(out, [[0.1, 0.3, 0.5, 0.1], [0.25, 0.25, 0.5, 0.0]])
    assert fold.path(["Wake", None], out) == ["active Wake", None]
    assert _Fold(["Wake", "REM", "NREM"], {}).plain


def test_lab_model_end_to_end(online, lab_model, active_mice, tmp_path):
    """Card, scoring steps by role, statistics, report, formats, evaluation."""
    card = lab_model.card
    assert card.classes == tuple(CLASSES) and card.roles == ROLES
    assert card.class_roles == {c: r for c, r in CLASSES.items()}
    assert "active Wake (wake)" in str(card)
    fname = tmp_path / "lab.pt"
    lab_model.save(fname)
    assert mms.load_model(fname).card.roles == ROLES  # saved with the model
    raw = active_mice[4]
    proba = mms.predict_proba(raw, model=lab_model, verbose="error")
    assert list(proba.columns) == list(CLASSES) and proba.attrs["roles"] == ROLES
    scored = proba.dropna()
    np.testing.assert_allclose(scored.sum(axis=1), 1.0, atol=1e-6)
    # The HMM's path names the lab's classes; YASA gets the roles' stages.
    stages = mms.proba_to_stages(proba)
    assert set(stages.cat.categories) >= set(CLASSES)
    assert set(proba.attrs["hmm"]["path"]) - {None} <= set(CLASSES)
    hyp = mms.to_hypnogram(proba)
    assert set(hyp.hypno) <= {"WAKE", "NREM", "REM", "UNS"}
    assert (hyp.hypno == "WAKE").sum() == stages.isin(["Wake", "active Wake"]).sum()
    # Statistics and the transition matrix hold the class; Wake % counts it.
    stats = mms.sleep_statistics(stages)
    assert "active Wake min" in stats and "active Wake bouts" in stats
    shares = [stats[f"{s} %"] for s in ("Wake", "NREM", "pre-REM", "REM")]
    assert sum(shares) + stats["active Wake %"] == pytest.approx(100)
    _, probs = mms.transition_matrix(stages)
    assert "active Wake" in probs.index
    # Annotations name the class; read back with the roles.
    annot = mms.to_annotations(proba)
    assert "Sleep stage active Wake" in set(annot.description)
    again = mms.to_stages(annot, roles=ROLES)
    assert (again.astype(str).to_numpy() == stages.astype(str).to_numpy()).all()
    # Evaluation against the expert's annotations (read with the roles).
    ev = mms.evaluate(raw.annotations, proba)
    assert "active Wake" in ev.per_class.index
    assert mms.evaluate(raw.annotations, proba, n_stages=3).classes == (
        "Wake",
        "NREM",
        "REM",
    )
    # A FASTER2 file cannot hold the class: written as its role, said so.
    with pytest.warns(
        RuntimeWarning, match="active Wake epochs of 10 s written as Wake"
    ):
        mms.write_scoring(proba, tmp_path / "x.faster2.stage.csv", format="faster2")
    back = mms.read_scoring(tmp_path / "x.faster2.stage.csv", format="faster2")
    assert "active Wake" not in set(back.astype(str))
    # The batch's report and figures.
    rec = tmp_path / "M4_raw.fif"
    raw.save(rec)
    summary = mms.score_files(rec, tmp_path / "out", model=fname, report=True)
    assert list(summary["status"]) == ["scored"], summary["error"][0]
    assert "active Wake %" in summary.columns or summary["Wake %"].notna().all()
    html = (tmp_path / "out" / "M4_report.html").read_text()
    assert "active Wake" in html
    sidecar = json.loads((tmp_path / "out" / "M4_scoring.json").read_text())
    assert sidecar["result"]["roles"] == ROLES
    # The review window cannot label the lab's classes yet: said, not a crash.
    from mne_mousesleep.gui._session import ReviewSession

    result = mms.ScoringResult.from_dict(sidecar["result"])
    with pytest.raises(ValueError, match="cannot label yet"):
        ReviewSession(result)
