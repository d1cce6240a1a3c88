"""Image size and cold start (container start to ready) of every ChurnLab image.

Cold start is timed from `docker run` to the first 200 from /readyz: the model loaded and warmed
up for the monolith and inference. The gateway has no stages to talk to when run alone, so its
figure is to the first 200 from /livez (its own process up); the edge's is to its own /livez,
with an upstream that does not resolve.
"""

from __future__ import annotations

import statistics
import time

import requests

from runtimes.ports import free_port

# image -> (container port, path that says it is up, environment)
IMAGES: dict[str, tuple[int, str, dict[str, str]]] = {
    "monolith": (8000, "/readyz", {}),
    "gateway": (8000, "/livez", {}),
    "hybrid": (8000, "/livez", {}),
    "ingest": (8000, "/readyz", {}),
    "features": (8000, "/readyz", {}),
    "inference": (8000, "/readyz", {}),
    "edge": (8404, "/livez", {"EDGE_UPSTREAM": "upstream:8000"}),
}


def cold_start_seconds(
    client,
    image: str,
    container_port: int,
    probe: str,
    environment: dict[str, str],
    timeout: float = 60,
) -> float:
    port = free_port()
    started = time.monotonic()
    container = client.containers.run(
        image,
        detach=True,
        environment=environment,
        ports={f"{container_port}/tcp": ("127.0.0.1", port)},
    )
    try:
        while time.monotonic() - started < timeout:
            try:
                if requests.get(f"http://127.0.0.1:{port}{probe}", timeout=0.5).status_code == 200:
                    return time.monotonic() - started
            except requests.RequestException:
                pass
            time.sleep(0.02)
        raise TimeoutError(f"{image} not ready after {timeout} s")
    finally:
        container.remove(force=True)


def image_figures(repeats: int = 3) -> dict[str, dict[str, float]]:
    import docker

    client = docker.from_env()
    figures = {}
    for name, (container_port, probe, environment) in IMAGES.items():
        image = f"churnlab/{name}:latest"
        starts = [
            cold_start_seconds(client, image, container_port, probe, environment)
            for _ in range(repeats)
        ]
        figures[name] = {
            "size_mb": round(client.images.get(image).attrs["Size"] / 1e6),
            "cold_start_s": round(statistics.median(starts), 2),
        }
    return figures
