"""The load the lab sends and watches: the Locust runner, wrk, readiness watching, CPU."""
