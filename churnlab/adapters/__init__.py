"""I/O behind the stages: the prediction log today, HTTP stage clients in the gateway."""
