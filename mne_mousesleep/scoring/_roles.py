"""A lab's own classes through the steps: folded to their roles and back.

The EMG rules, the hidden Markov model and the trust verdict know the
package's stages (Wake, NREM, pre-REM, REM, artifact). A model with classes of
its own (``"active Wake"`` of role wake, ``"cataplexy"`` of role other) runs
them on its probabilities folded by role (each stage the sum of its classes;
a class of role other counts as artifact), and the changes are shared back
among the classes of each stage in the proportions the network gave them.
"""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import numpy as np

from .._stages import UNSCORED, _stage_of


class _Fold:
    """The classes of a model folded to the stages of their roles.

    Parameters
    ----------
    classes : sequence of str
        The model's classes, in output order.
    roles : dict
        The roles of its own classes (:attr:`ModelCard.roles
        <mne_mousesleep.ModelCard.roles>`).
    """

    def __init__(self, classes, roles):
        self.classes = list(classes)
        self.stage = [_stage_of(c, roles) for c in self.classes]
        #: The stages the steps see, in the order of their first class.
        self.stages = list(dict.fromkeys(self.stage))
        self.matrix = np.zeros((len(self.classes), len(self.stages)))
        for ii, stage in enumerate(self.stage):
            self.matrix[ii, self.stages.index(stage)] = 1.0

    @property
    def plain(self):
        """Whether every class is a stage of its own (nothing to fold)."""
        return self.stages == self.classes

    def fold(self, values):
        """Return the probabilities of the stages, ``(n_epochs, n_stages)``."""
        return np.asarray(values, float) @ self.matrix

    def labels(self, labels):
        """Return class labels as the stages of their roles."""
        by_class = dict(zip(self.classes, self.stage))
        return np.array([by_class.get(x, UNSCORED) for x in labels], dtype=object)

    def unfold(self, before, after):
        """Return class probabilities with the stage probabilities ``after``.

        Each class keeps its share of its stage in ``before`` (the network's
        probabilities); a stage the network gave nothing is shared equally.
        """
        before = np.asarray(before, float)
        total = self.fold(before) @ self.matrix.T
        size = self.matrix.sum(axis=0) @ self.matrix.T
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(total > 0, before / total, 1.0 / size)
        return share * (np.asarray(after, float) @ self.matrix.T)

    def path(self, path, values):
        """Return a Viterbi path of stages as classes.

        Each epoch takes the most probable class of its stage in ``values``
        (the unfolded probabilities).
        """
        out = []
        for label, row in zip(path, values):
            if label is None:
                out.append(None)
                continue
            cols = [ii for ii, s in enumerate(self.stage) if s == label]
            out.append(self.classes[max(cols, key=lambda ii: row[ii])])
        return out
