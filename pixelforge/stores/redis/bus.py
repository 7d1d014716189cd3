"""The event bus of distributed mode: Redis pub/sub between processes, the in-process bus within one.

A process's own subscribers and control handlers get what it publishes at once, through an
``InProcessBus``; other processes get it through Redis pub/sub (one channel for events, one for stop
requests) and a listener thread that hands each message to their own in-process bus. Pub/sub is not
durable, and need not be: events are in the store, so when the connection drops every subscriber is
marked lagged and replays from there; a stop request is in the store too (the task's ``stop_request``),
which the worker running the task also reads with every heartbeat.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import uuid
from collections.abc import Callable

import redis
from pydantic import BaseModel

from pixelforge.stores.redis.keys import CONNECTION_ERRORS, RECONNECT_CAP_S, RedisKeys, connect
from pixelforge.tasks.bus import ControlHandler, InProcessBus, Subscription
from pixelforge.tasks.events import TaskEvent
from pixelforge.tasks.model import EventType, StopRequest

log = logging.getLogger(__name__)

# How long the listener waits for a message before it looks whether the bus is closing.
LISTEN_POLL_S = 0.2


class ControlMessage(BaseModel):
    task_id: str
    request: StopRequest


class BusMessage(BaseModel):
    """One pub/sub message, sent as ``<origin> <JSON>``: the origin (the publishing bus, or 'store' for the
    store's own events) comes first so that a process skips its own messages without parsing them."""

    event: TaskEvent | None = None
    control: ControlMessage | None = None
    queue_moved: bool = False


class RedisEventBus:
    def __init__(self, url_or_client: str | redis.Redis, namespace: str = "pixelforge") -> None:
        self.redis = connect(url_or_client) if isinstance(url_or_client, str) else url_or_client
        self.keys = RedisKeys(namespace)
        self._origin = uuid.uuid4().hex
        self._local = InProcessBus()
        self._closing = threading.Event()
        self._subscribed = threading.Event()
        self._listener = threading.Thread(target=self._listen, name="pixelforge-redis-bus", daemon=True)
        self._listener.start()
        # Messages published before the subscription is in place would be lost to this process.
        self._subscribed.wait(RECONNECT_CAP_S * 5)

    # --- publishing ------------------------------------------------------------------------
    def publish(self, event: TaskEvent) -> None:
        self._local.publish(event)
        self._send(self.keys.event_channel, BusMessage(event=event))

    @property
    def queue_generation(self) -> int:
        return self._local.queue_generation  # moves from other processes reach the local bus too

    def publish_queue_moved(self) -> None:
        self._local.publish_queue_moved()
        self._send(self.keys.event_channel, BusMessage(queue_moved=True))

    def publish_control(self, task_id: str, request: StopRequest) -> None:
        self._local.publish_control(task_id, request)
        message = BusMessage(control=ControlMessage(task_id=task_id, request=request))
        self._send(self.keys.control_channel, message)

    def _send(self, channel: str, message: BusMessage) -> None:
        try:
            self.redis.publish(channel, f"{self._origin} {message.model_dump_json()}")
        except CONNECTION_ERRORS:
            # Never raised into the denoising thread: the event is in the store, the stop request too.
            log.warning("could not publish on %s: Redis is unreachable; watchers will replay from the store", channel)

    # --- receiving -------------------------------------------------------------------------
    def subscribe(
        self, task_id: str | None = None, types: frozenset[EventType] | None = None, queue_moves: bool = False
    ) -> Subscription:
        return self._local.subscribe(task_id, types, queue_moves)

    def on_control(self, handler: ControlHandler) -> Callable[[], None]:
        return self._local.on_control(handler)

    def _listen(self) -> None:
        backoff, lost = 0.05, False
        while not self._closing.is_set():
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated
            try:
                pubsub.subscribe(self.keys.event_channel, self.keys.control_channel)
                self._subscribed.set()
                if lost:  # the queue may have moved meanwhile too: every watcher reads its place again
                    self._local.publish_queue_moved()
                backoff, lost = 0.05, False
                while not self._closing.is_set():
                    message = pubsub.get_message(timeout=LISTEN_POLL_S)
                    if message is not None and message["type"] == "message":
                        self._deliver(message["data"])
            except CONNECTION_ERRORS:
                if self._closing.is_set():
                    break
                log.warning("lost the Redis bus; reconnecting in %.2f s", backoff)
                lost = True
                self._local.lag_all()  # whatever came meanwhile is in the store
                self._closing.wait(backoff)
                backoff = min(backoff * 2, RECONNECT_CAP_S)
            finally:
                with contextlib.suppress(*CONNECTION_ERRORS):
                    pubsub.close()

    def _deliver(self, raw: bytes) -> None:
        origin, _, body = raw.partition(b" ")
        if origin.decode(errors="replace") == self._origin:
            return
        try:
            message = BusMessage.model_validate_json(body)
        except ValueError:
            log.warning("ignored a malformed bus message: %.200r", raw)
            return
        if message.event is not None:
            self._local.publish(message.event)
        if message.control is not None:
            self._local.publish_control(message.control.task_id, message.control.request)
        if message.queue_moved:
            self._local.publish_queue_moved()

    def close(self) -> None:
        self._closing.set()
        self._listener.join(LISTEN_POLL_S * 4)
        self._local.close()
        self.redis.close()
