"""Benchmarks, Locust scenarios, failure injection and the monolith-vs-microservices experiments."""
