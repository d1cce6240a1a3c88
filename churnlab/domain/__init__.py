"""The four workflow stages as plain typed functions: no web framework, no HTTP client."""
