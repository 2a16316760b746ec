"""Provenance: the CPU's model and instruction set are recorded (they change float rounding, so the
same seed and code can train differently on another machine)."""

import torch

from surf_bench.engine.provenance import cpu_model, device_description


def test_cpu_device_names_model_instruction_set_and_threads():
    text = device_description("cpu")
    capability = torch.backends.cpu.get_cpu_capability()
    assert text.startswith(f"cpu:{cpu_model()} ({capability})") and cpu_model()
    assert text.endswith(f"x{torch.get_num_threads()} threads")
