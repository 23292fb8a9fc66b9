"""Distillation into the tagger: the loss term moves a student toward its teacher."""

from __future__ import annotations

import numpy as np
import pytest

from fsa_edge.errors import TrainingError
from fsa_edge_tagger.distillation import Distillation, distillation_loss, soften
from fsa_edge_tagger.scheme import CATEGORY_CLASSES, TAGS


def test_softening_flattens_and_keeps_the_order():
    p = np.array([[0.7, 0.2, 0.1]])
    warm = soften(p, 2.0)
    assert warm.sum() == pytest.approx(1.0) and np.all(np.diff(warm[0]) < 0)
    assert warm[0, 0] < 0.7 and warm[0, 2] > 0.1
    assert np.allclose(soften(p, 1.0), p)
    with pytest.raises(TrainingError, match="temperature"):
        Distillation(temperature=0)


def test_the_loss_moves_a_toy_student_toward_its_teacher():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    teacher_tags = rng.dirichlet(np.ones(len(TAGS)) * 0.3, size=(2, 5)).astype(np.float32)
    teacher_categories = rng.dirichlet(np.ones(len(CATEGORY_CLASSES)) * 0.3,
                                       size=(2, 3)).astype(np.float32)
    settings = Distillation(weight=1.0, temperature=2.0)
    piece_mask = [np.array([False, True, True, True, False]), np.array([False, True, True, False,
                                                                         False])]
    rows = [{"soft_tags": (soften(teacher_tags[i], 2.0), piece_mask[i]),
             "soft_categories": (soften(teacher_categories[i], 2.0),
                                 np.array([True, True, i == 0]))} for i in range(2)]
    term = torch.zeros((2, 5, len(TAGS)), requires_grad=True)
    category = torch.zeros((2, 3, len(CATEGORY_CLASSES)), requires_grad=True)
    optimizer = torch.optim.Adam([term, category], lr=0.1)
    losses = []
    for _ in range(400):
        loss = distillation_loss(term, category, rows, settings, "cpu")
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.01 * losses[0]
    learned = torch.softmax(term.detach(), -1).numpy()
    assert np.allclose(learned[0, 1:4], teacher_tags[0, 1:4], atol=0.02)  # the teacher at T = 1
    assert np.allclose(torch.softmax(category.detach(), -1).numpy()[0], teacher_categories[0],
                       atol=0.02)
    # masked pieces and categories get no gradient: they stay uniform
    assert np.allclose(learned[0, 0], 1 / len(TAGS)) and np.allclose(learned[1, 3], 1 / len(TAGS))
    assert np.allclose(torch.softmax(category.detach(), -1).numpy()[1, 2],
                       1 / len(CATEGORY_CLASSES))


def test_rows_without_soft_targets_add_nothing():
    torch = pytest.importorskip("torch")
    term = torch.zeros((1, 4, len(TAGS)))
    assert distillation_loss(term, None, [{}], Distillation(), "cpu") is None
