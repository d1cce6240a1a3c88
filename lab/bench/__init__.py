"""`make bench`: speed as ratios from one run (`python -m lab.bench`)."""
