"""Training: the loop, its steps, EMA, checkpoints and run folders."""
