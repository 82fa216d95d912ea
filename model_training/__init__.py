"""Training pipeline: text processing, data loading, training and evaluation."""
