"""The HTTP layer shared by every deployable: app factory, public API, errors, observability."""
