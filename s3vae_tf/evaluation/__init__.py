"""Evaluation: judge classifiers, the paper's metrics (Acc, IS, H(y|x), H(y)) and swap/generation pictures."""
