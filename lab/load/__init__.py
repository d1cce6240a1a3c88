"""What tests and experiments share: running deployments, faults, load generators."""
