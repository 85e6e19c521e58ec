"""The numeric core: model, split, batches, the one training loop. Its sources set the code version."""
