"""EMA teacher: theta_T <- alpha theta_T + (1 - alpha) theta_S (Tarvainen & Valpola 2017)."""

from __future__ import annotations

import copy

import torch
from torch import nn


def make_teacher(student: nn.Module) -> nn.Module:
    teacher = copy.deepcopy(student)
    teacher.requires_grad_(False)
    teacher.eval()
    return teacher


@torch.no_grad()
def ema_update(teacher: nn.Module, student: nn.Module, alpha: float) -> None:
    """In place; alpha = 1 freezes the teacher, alpha = 0 copies the student. Buffers are copied."""
    for p_t, p_s in zip(teacher.parameters(), student.parameters(), strict=True):
        p_t.mul_(alpha).add_(p_s.detach(), alpha=1 - alpha)
    for b_t, b_s in zip(teacher.buffers(), student.buffers(), strict=True):
        b_t.copy_(b_s)
