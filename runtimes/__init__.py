"""The runtimes a deployment runs on: local processes, Compose and the local Swarm. Each stands
a deployment up, breaks it (faults) and reads it (readiness, the prediction log, CPU). `make
up-*` and `make down`, the tests, the bench and the lab all come through here."""
