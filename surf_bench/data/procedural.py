"""Procedural environmental sounds (numpy + scipy only, no recordings), for the offline FUSS-like set.

Backgrounds fill the whole clip (wind, rain, hum, stream, room tone); foreground events are short
(bell, knock, bird, beep, whistle, bark, footsteps). Each generator takes a numpy Generator and a
sample rate and returns float32 samples; the same generator state gives the same sound.
"""

from __future__ import annotations

import numpy as np
from scipy import signal


def _smooth_noise(rng, n: int, points: int, low: float, high: float) -> np.ndarray:
    """A slowly varying curve between low and high (linear interpolation of random points)."""
    knots = rng.uniform(low, high, size=points)
    return np.interp(np.linspace(0, points - 1, n), np.arange(points), knots)


def _band(x: np.ndarray, rate: int, lo: float | None, hi: float | None, order: int = 2) -> np.ndarray:
    nyquist = rate / 2
    if lo and hi:
        sos = signal.butter(order, [lo / nyquist, min(hi / nyquist, 0.99)], "bandpass", output="sos")
    elif lo:
        sos = signal.butter(order, lo / nyquist, "highpass", output="sos")
    else:
        sos = signal.butter(order, min(hi / nyquist, 0.99), "lowpass", output="sos")
    return signal.sosfilt(sos, x)


def _envelope(n: int, rate: int, attack: float, decay: float) -> np.ndarray:
    t = np.arange(n) / rate
    return np.minimum(1.0, t / max(attack, 1e-4)) * np.exp(-t / decay)


# ---------------------------------------------------------------------------------------- backgrounds
def wind(rng, rate: int, n: int) -> np.ndarray:
    brown = np.cumsum(rng.standard_normal(n))
    brown = _band(brown - brown.mean(), rate, 20, None)
    gusts = _smooth_noise(rng, n, 6, 0.2, 1.0)
    return _band(brown, rate, None, rng.uniform(300, 1200)) * gusts


def rain(rng, rate: int, n: int) -> np.ndarray:
    hiss = _band(rng.standard_normal(n), rate, rng.uniform(1500, 4000), None) * 0.3
    drops = np.zeros(n)
    count = int(rng.uniform(40, 200) * n / rate)
    for at in rng.integers(0, n, size=count):
        length = int(rate * rng.uniform(0.003, 0.015))
        drop = rng.standard_normal(length) * np.exp(-np.arange(length) / (length / 4)) * rng.uniform(0.3, 1.5)
        drops[at : at + length] += drop[: n - at]
    return hiss + _band(drops, rate, 800, None)


def hum(rng, rate: int, n: int) -> np.ndarray:
    t = np.arange(n) / rate
    f0 = rng.uniform(40, 130) * (1 + 0.01 * _smooth_noise(rng, n, 5, -1, 1))
    phase = 2 * np.pi * np.cumsum(f0) / rate
    tone = sum(rng.uniform(0.2, 1.0) / h * np.sin(h * phase + rng.uniform(0, 2 * np.pi)) for h in range(1, 9))
    rumble = _band(rng.standard_normal(n), rate, None, 400) * rng.uniform(0.2, 0.8)
    return tone * (1 + 0.1 * np.sin(2 * np.pi * rng.uniform(0.2, 3) * t)) + rumble


def stream(rng, rate: int, n: int) -> np.ndarray:
    centre = rng.uniform(400, 2500)
    water = _band(rng.standard_normal(n), rate, centre / 2, centre * 2)
    flutter = _band(np.abs(rng.standard_normal(n)), rate, None, rng.uniform(8, 30))
    return water * (0.5 + flutter / (np.abs(flutter).max() + 1e-9))


def room_tone(rng, rate: int, n: int) -> np.ndarray:
    white = rng.standard_normal(n)
    pink = signal.lfilter(
        [0.049922, -0.095993, 0.050612, -0.004408], [1, -2.494956, 2.017265, -0.522189], white
    )
    return _band(pink, rate, 30, rng.uniform(2000, 7000)) * _smooth_noise(rng, n, 4, 0.6, 1.0)


# ----------------------------------------------------------------------------------------- foregrounds
def bell(rng, rate: int, n: int) -> np.ndarray:
    t = np.arange(n) / rate
    f0 = rng.uniform(300, 1200)
    ratios = [1.0, 2.76, 5.40, 8.93, 13.34]
    decay = rng.uniform(0.3, 1.2)
    return sum(
        rng.uniform(0.3, 1.0) / (i + 1) * np.sin(2 * np.pi * f0 * r * t) * np.exp(-t * (1 + i) / decay)
        for i, r in enumerate(ratios)
    )


def knock(rng, rate: int, n: int) -> np.ndarray:
    out = np.zeros(n)
    modes = rng.uniform(150, 900, size=3)
    hits = rng.integers(2, 6)
    gap = int(rate * rng.uniform(0.08, 0.25))
    t = np.arange(int(rate * 0.12)) / rate
    strike = sum(np.sin(2 * np.pi * f * t) * np.exp(-t * rng.uniform(30, 80)) for f in modes)
    for h in range(hits):
        at = h * gap
        if at >= n:
            break
        out[at : at + len(strike)] += strike[: n - at] * rng.uniform(0.6, 1.0)
    return out


def bird(rng, rate: int, n: int) -> np.ndarray:
    out = np.zeros(n)
    at = 0
    while at < n:
        length = int(rate * rng.uniform(0.04, 0.12))
        f_start, f_end = rng.uniform(2000, 6000, size=2)
        freq = np.linspace(f_start, f_end, length)
        chirp = np.sin(2 * np.pi * np.cumsum(freq) / rate) * np.hanning(length)
        out[at : at + length] += chirp[: n - at]
        at += length + int(rate * rng.uniform(0.02, 0.15))
    return out


def beep(rng, rate: int, n: int) -> np.ndarray:
    f0 = rng.uniform(500, 2500)
    on, off = int(rate * rng.uniform(0.05, 0.2)), int(rate * rng.uniform(0.04, 0.15))
    t = np.arange(n) / rate
    tone = np.sin(2 * np.pi * f0 * t) + 0.3 * np.sin(2 * np.pi * 3 * f0 * t)
    gate = (np.arange(n) % (on + off)) < on
    return tone * signal.sosfilt(signal.butter(1, 200 / (rate / 2), output="sos"), gate.astype(float))


def whistle(rng, rate: int, n: int) -> np.ndarray:
    t = np.arange(n) / rate
    glide = np.linspace(rng.uniform(800, 2000), rng.uniform(800, 2000), n)
    vibrato = 1 + 0.02 * np.sin(2 * np.pi * rng.uniform(4, 7) * t)
    breath = _band(rng.standard_normal(n), rate, 1000, 4000) * 0.05
    return (np.sin(2 * np.pi * np.cumsum(glide * vibrato) / rate) + breath) * np.hanning(n)


def bark(rng, rate: int, n: int) -> np.ndarray:
    out = np.zeros(n)
    length = int(rate * rng.uniform(0.1, 0.25))
    f0 = rng.uniform(200, 600)
    for b in range(rng.integers(1, 4)):
        at = int(b * length * rng.uniform(1.3, 2.0))
        if at >= n:
            break
        t = np.arange(length) / rate
        source = signal.sawtooth(
            2 * np.pi * f0 * t * np.linspace(1.2, 0.8, length)
        ) + 0.5 * rng.standard_normal(length)
        voiced = sum(
            _band(source, rate, f * 0.8, f * 1.25) for f in (rng.uniform(500, 900), rng.uniform(1200, 2200))
        )
        burst = voiced * _envelope(length, rate, 0.01, length / rate / 3)
        out[at : at + length] += burst[: n - at]
    return out


def footsteps(rng, rate: int, n: int) -> np.ndarray:
    out = np.zeros(n)
    step = int(rate * rng.uniform(0.35, 0.6))
    length = int(rate * 0.08)
    for at in range(0, n, step):
        thud = _band(rng.standard_normal(length), rate, 60, rng.uniform(400, 1500)) * _envelope(
            length, rate, 0.002, 0.02
        )
        out[at : at + length] += thud[: n - at]
    return out


BACKGROUNDS = {"wind": wind, "rain": rain, "hum": hum, "stream": stream, "room_tone": room_tone}
FOREGROUNDS = {
    "bell": bell,
    "knock": knock,
    "bird": bird,
    "beep": beep,
    "whistle": whistle,
    "bark": bark,
    "footsteps": footsteps,
}
