"""The stages as HTTP calls to their services: what the gateway plugs into the workflow.

Their in-process twins, which the monolith plugs in instead, are in `local_stages.py`.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Sequence
from typing import Any

from churnlab.adapters import inference_protocol as protocol
from churnlab.adapters.periodic import every
from churnlab.adapters.spool import Spool
from churnlab.adapters.stage_client import StageClient
from churnlab.domain.errors import (
    PROBLEM_TYPE_PREFIX,
    IdempotencyConflictError,
    NotReplicatedError,
    StageRejectedError,
    StageUnavailableError,
    StorageUnavailableError,
)
from churnlab.domain.features import FeatureColumns, row_count
from churnlab.domain.ingest import Outcome, Recording, single_outcome
from churnlab.domain.schema import CustomerRecord
from churnlab.domain.scores import Scores
from churnlab.metrics import (
    SPOOL_DEAD_LETTERS,
    SPOOL_OLDEST_AGE_SECONDS,
    SPOOL_RECORDS,
    VOLUME_FREE_BYTES,
    VOLUME_SIZE_BYTES,
)
from churnlab.request_context import deadline_or
from churnlab.tracing import span
from churnlab.workflow import DEGRADED, READY

logger = logging.getLogger(__name__)
REPLAY_RECORDINGS = 100  # per ingest call; a batch recording counts once


class HttpFeatures:
    def __init__(self, client: StageClient) -> None:
        self.client = client

    def prepare(self, records: Sequence[CustomerRecord]) -> FeatureColumns:
        payload = {"records": [record.model_dump() for record in records]}
        return self.client.call("POST", "/v1/features", payload, records=len(records))["features"]

    def readiness(self) -> str:
        return self.client.readiness()


class HttpInference:
    def __init__(self, client: StageClient) -> None:
        self.client = client

    def predict(self, features: FeatureColumns) -> Scores:
        """One call of the Open Inference Protocol (inference_protocol.py)."""
        rows = row_count(features)
        answer = self.client.call(
            "POST", protocol.INFER_PATH, protocol.infer_request(features), records=rows
        )
        try:
            return protocol.scores_from(answer, rows)
        except (KeyError, TypeError, ValueError, IndexError) as error:
            raise StageRejectedError(f"inference's answer cannot be read: {error!r}") from None

    def model_card(self) -> dict[str, Any]:
        return protocol.card_from(self.client.call("GET", protocol.METADATA_PATH))

    def readiness(self) -> str:
        return self.client.readiness()


class HttpIngest:
    """Ingest over HTTP, after scoring: the answered request is sent to the ingest service,
    which logs it (or finds its key's earlier answer) before the gateway answers.

    With a spool, a request that ingest cannot take is committed to it instead and answered
    (`recorded: false`): degraded mode. One worker of the gateway at a time replays the spool
    to ingest, oldest first (ingest is idempotent by prediction id and key, so a replay that
    races a live retry records nothing twice); a request ingest refuses moves to the dead
    letters and the queue goes on. On exit (SIGTERM), each worker drains what it can within
    `drain_seconds`; what is left stays on the spool's volume for the next replica there.
    Without a spool (resilience off, or a cluster where one node's disk is no copy to trust),
    a request ingest cannot take fails, and the error says whether anything was kept.
    """

    def __init__(
        self,
        client: StageClient,
        spool: Spool | None,
        replay_every: float,
        drain_seconds: float = 0.0,
    ) -> None:
        self.client = client
        self.spool = spool
        self._drain_seconds = drain_seconds
        self._replaying = threading.Lock()  # one replay at a time in this process
        self._spooled: int | str = 0  # records waiting, or why the spool cannot be read
        if spool is not None:
            self._count_spool()
            if replay_every > 0:
                every(replay_every, self._replay_round, "spool-replay")
            if drain_seconds > 0:
                atexit.register(self.drain)

    def record(self, recording: Recording) -> Outcome:
        spool, key = self.spool, recording.idempotency
        if spool is not None and key is not None:
            spooled = spool.by_key(key.key)
            if spooled is not None:
                return self._retry_of_spooled(spool, recording, *spooled)
        try:
            results = self._send([recording])
        except StageUnavailableError as error:
            if spool is None:
                raise _what_ingest_kept(error) from None
            return self._spool(spool, recording, error)
        return single_outcome(results)

    def _spool(self, spool: Spool, recording: Recording, error: StageUnavailableError) -> Outcome:
        try:
            with span("spool"):
                outcome = spool.put(recording, deadline_or(5.0))
        except StorageUnavailableError as spool_failed:
            # The spool full, or late: the answer says what ingest may have kept meanwhile.
            kept = _what_ingest_kept(error)
            if isinstance(kept, StorageUnavailableError) and kept.kept != "nothing":
                raise kept from spool_failed
            raise
        if isinstance(self._spooled, int) and not outcome.replayed:
            self._spooled += len(recording.predictions)  # recounted every replay round
        logger.warning(
            "ingest unavailable, %d record(s) spooled: %s", len(recording.predictions), error.reason
        )
        return outcome

    def _retry_of_spooled(
        self, spool: Spool, recording: Recording, seq: int, spooled: Recording
    ) -> Outcome:
        """A retry under a key this replica spooled: the spooled request goes to ingest first,
        so that its answer (the one the client has) is the one logged; while ingest is still
        down, it is the answer again."""
        key, first = recording.idempotency, spooled.idempotency
        assert key is not None
        assert first is not None
        if first.fingerprint != key.fingerprint:
            raise IdempotencyConflictError(key.key)
        try:
            [result] = self._send([spooled])
        except StageUnavailableError:
            return Outcome(spooled, replayed=True, copies=1, logged=False)
        if isinstance(result, Exception) or _superseded(spooled, result):
            spool.dead_letter(seq, _why_dead(result))
            if isinstance(result, Exception):
                raise result
            return result
        spool.remove([seq])
        return result._replace(replayed=True)

    def prediction(self, prediction_id: str) -> dict[str, Any] | None:
        """From the log; a prediction still spooled shows there once replayed."""
        try:
            return self.client.call("GET", f"/v1/predictions/{prediction_id}")
        except StageRejectedError as error:
            if error.status == 404:
                return None
            raise

    def erase(self, customer_id: str) -> int:
        """Out of this gateway's spool, then out of the log (which leaves a tombstone, so
        another gateway's spooled records of the customer are refused when replayed)."""
        erased = self.spool.erase(customer_id) if self.spool is not None else 0
        answer = self.client.call("DELETE", f"/v1/customers/{customer_id}/predictions")
        return erased + answer["erased"]

    def _send(self, recordings: Sequence[Recording]) -> list[Outcome | Exception]:
        """One ingest call; an outcome per recording, or the conflict of its key."""
        payload = {"recordings": [recording.to_json() for recording in recordings]}
        records = sum(len(recording.predictions) for recording in recordings)
        answer = self.client.call("POST", "/v1/ingest", payload, records=records)
        return [
            _outcome(recording, result)
            for recording, result in zip(recordings, answer["outcomes"], strict=True)
        ]

    def replay(self) -> int:
        """Send spooled requests to ingest until the spool is empty or ingest fails; how many
        records. Only in the process that holds the spool's replayer lock."""
        assert self.spool is not None
        with self._replaying, self.spool.file.exclusive("replayer") as leading:
            if not leading:
                return 0
            sent = 0
            while batch := self.spool.oldest(REPLAY_RECORDINGS):
                try:
                    with span("spool replay", recordings=len(batch)):  # a trace of its own
                        results = self._send([recording for _, recording in batch])
                except StageRejectedError:  # one of them is refused: find which
                    results = self._one_by_one(batch)
                except StageUnavailableError:
                    break
                done = []
                for (seq, recording), result in zip(batch, results, strict=False):
                    if isinstance(result, Exception) or _superseded(recording, result):
                        logger.error("spooled request %d not logged: %s", seq, _why_dead(result))
                        self.spool.dead_letter(seq, _why_dead(result))
                    else:
                        done.append(seq)
                        sent += len(recording.predictions)
                self.spool.remove(done)
                if len(results) < len(batch):  # ingest went down half-way
                    break
            if sent:
                logger.info("replayed %d spooled record(s) to ingest", sent)
            return sent

    def _one_by_one(self, batch: list[tuple[int, Recording]]) -> list[Outcome | Exception]:
        """Each recording alone, until ingest is unavailable: its own outcome or refusal."""
        results: list[Outcome | Exception] = []
        for _, recording in batch:
            try:
                results += self._send([recording])
            except StageRejectedError as refused:
                results.append(refused)
            except StageUnavailableError:
                break
        return results

    def drain(self) -> None:
        """Replay what is left before the process exits, for up to `drain_seconds`."""
        assert self.spool is not None
        deadline = time.monotonic() + self._drain_seconds
        while time.monotonic() < deadline:
            try:
                self.replay()
                if self.spool.depth()[0] == 0:
                    return
            except Exception:  # exiting anyway: what is left stays on the volume
                logger.exception("draining the spool failed")
                return
            time.sleep(0.2)
        logger.warning("exiting with %d record(s) still spooled", self.spool.depth()[0])

    def _replay_round(self) -> None:
        self.replay()
        self._count_spool()

    def _count_spool(self) -> None:
        assert self.spool is not None
        try:
            records, oldest_age = self.spool.depth()
            dead_letters = self.spool.dead_letter_count()
        except StorageUnavailableError as error:
            self._spooled = f"spool unavailable: {error.reason}"
            return
        self._spooled = records
        SPOOL_RECORDS.set(records)
        SPOOL_OLDEST_AGE_SECONDS.set(oldest_age)
        SPOOL_DEAD_LETTERS.set(dead_letters)
        volume = os.statvfs(self.spool.path.parent)
        VOLUME_FREE_BYTES.labels("spool").set(volume.f_bavail * volume.f_frsize)
        VOLUME_SIZE_BYTES.labels("spool").set(volume.f_blocks * volume.f_frsize)

    def readiness(self) -> str:
        """Ingest being down degrades the gateway but does not make it unready (with a spool)."""
        state = self.client.readiness()
        spooled = self._spooled
        if self.spool is None or isinstance(spooled, str):
            return state if self.spool is None else spooled
        if state == READY and spooled == 0:
            return READY
        return f"{DEGRADED}: ingest {state}; {spooled} record(s) spooled"


def _outcome(recording: Recording, result: dict[str, Any]) -> Outcome | Exception:
    if result["status"] == "conflict":
        assert recording.idempotency is not None
        return IdempotencyConflictError(recording.idempotency.key)
    if result["status"] == "replayed":
        return Outcome(Recording.from_json(result["recording"]), True, result["copies"])
    return Outcome(recording, False, result["copies"])


def _superseded(spooled: Recording, result: Outcome) -> bool:
    """The log answered under the spooled request's key with other predictions: another
    gateway replica logged a retry of it first, and the spooled answer's ids never will be."""
    ids = [p.prediction_id for p in spooled.predictions]
    return result.replayed and [p.prediction_id for p in result.recording.predictions] != ids


def _why_dead(result: Outcome | Exception) -> str:
    if isinstance(result, Exception):
        return str(result)
    return (
        f"its Idempotency-Key was logged with other predictions (request"
        f" {result.recording.request_id}): the answer given from this spool is superseded"
    )


def _what_ingest_kept(error: StageUnavailableError) -> Exception:
    """Ingest's own account of a failed write, when it gave one: the same problem as the
    monolith would answer. Without one, a call that may have reached ingest (a timeout) may
    have been kept; one that never reached it kept nothing."""
    problem = error.problem or {}
    kind = str(problem.get("type", "")).removeprefix(PROBLEM_TYPE_PREFIX)
    if kind == "not-replicated":
        return NotReplicatedError(problem.get("store", "prediction log"), error.reason)
    if kind == "storage-unavailable":
        kept = problem.get("kept", "nothing")
        if kept == "nothing" and error.reached:  # a later attempt may have got further
            kept = "unknown"
        return StorageUnavailableError(
            problem.get("store", "prediction log"), error.reason, kept=kept
        )
    if error.reached:
        return StorageUnavailableError("prediction log", error.reason, kept="unknown")
    return error
