"""Methods: one file per method; a method is a loss over one batch of embeddings."""
