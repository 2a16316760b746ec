import torch

from surf_bench.ema import ema_update, make_teacher


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
