"""`make compare`: the experiments that compare the two deployments, and their report."""
