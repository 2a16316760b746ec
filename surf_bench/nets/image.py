"""Image backbone: the 2-D slot U-Net (surf_bench.nets.unet) over pixels."""

from .unet import SlotUNet

__all__ = ["SlotUNet"]
