"""The separation maths the methods share: the flow path and its sampler (flow), permutation-invariant
training (pit), remixing (remix), MixIT (mixit), the SURF step (surf), losses and the EMA teacher (ema).
Pure tensor functions; nothing here imports the rest of surf_bench."""
