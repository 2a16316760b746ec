import torch

from surf_bench.maths.ema import ema_update, make_teacher
from tests.helpers import make_method, tiny_image_split


def test_ema_matches_its_formula_and_alpha_one_freezes():
    student = torch.nn.Linear(3, 2)
    teacher = make_teacher(student)
    assert not any(p.requires_grad for p in teacher.parameters())
    with torch.no_grad():
        for p in student.parameters():
            p.add_(1.0)
    before = [p.clone() for p in teacher.parameters()]
    ema_update(teacher, student, 1.0)
    for b, p in zip(before, teacher.parameters()):
        torch.testing.assert_close(p, b)
    ema_update(teacher, student, 0.9)
    for b, p_t, p_s in zip(before, teacher.parameters(), student.parameters()):
        torch.testing.assert_close(p_t, 0.9 * b + 0.1 * p_s)
    ema_update(teacher, student, 0.0)
    for p_t, p_s in zip(teacher.parameters(), student.parameters()):
        torch.testing.assert_close(p_t, p_s)


def test_the_weights_average_follows_the_student_and_becomes_the_scored_network():
    spec = tiny_image_split().spec
    plain = make_method("pit", spec)
    assert plain.average is None and "average" not in plain.modules()
    method = make_method("pit", spec, overrides={"train.weights_ema": 0.75})
    assert set(method.modules()) == {"net", "average"}
    start = [p.clone() for p in method.net.parameters()]
    with torch.no_grad():
        for p in method.net.parameters():
            p.add_(1.0)
    method.after_step(1, False)
    for s, p_a, p_s in zip(start, method.average.parameters(), method.net.parameters()):
        torch.testing.assert_close(p_a, 0.75 * s + 0.25 * p_s)
    method.finish_training()
    for p_a, p_s in zip(method.average.parameters(), method.net.parameters()):
        torch.testing.assert_close(p_s, p_a)
