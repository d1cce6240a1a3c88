"""Serving systems a user might reach for instead of ChurnLab, for `make bench` to measure beside
it: MLflow `models serve`, MLServer and BentoML, each serving the same model on the same record,
each with its own server at production settings (two worker processes, as ChurnLab's monolith
has), on loopback. Each lives in a virtualenv of its own under build/ (made on first use), so
that its dependencies never touch ChurnLab's.

What they serve is a model and nothing more: ChurnLab's answer also validates the record fully
and writes it, with its answer, durably to the prediction log before replying.
"""
