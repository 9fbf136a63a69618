"""Health and metrics: the assembly of what ``WebSocketManager.health()`` reports (its shapes are
in ``health``), and the HTTP endpoint (``/healthz``, and ``/metrics`` in Prometheus' text format).

The figures are read when asked for, from counters the connections, routers and workers keep anyway
(a few additions and, on sampled messages, a clock read): a scrape costs the message path nothing.
It reads the links, routers and dispatcher it is given, and imports them for their types only: at
run time, of the SDK, only ``health`` and ``redact``.
"""

from __future__ import annotations

import itertools
import json
import logging
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from .health import BackendHealth, ConnectionHealth, Health, Latency, TypeHealth
from .redact import redact

if TYPE_CHECKING:
    import http.server

    from .dispatch import Dispatcher
    from .link import Link
    from .router import Router

log = logging.getLogger(__name__)


def connection_health(link: Link, now: float, stale_after: float,
                      queued: Mapping[str, int]) -> ConnectionHealth:
    """One connection's figures."""
    conn = link.conn
    age = None if conn.last_frame_at is None else round(now - conn.last_frame_at, 3)
    stale = age is not None and bool(link.wanted) and age > stale_after
    is_open = conn.state.value == "OPEN"
    return ConnectionHealth(
        state=conn.state.value,
        url=conn.shown_url,
        healthy=not link.active or (is_open and not stale),
        connected_since=conn.connected_since if is_open else None,
        last_message_age_s=age,
        reconnects=link.reconnects,
        recycles=link.recycles,
        connect_attempts=link.attempts,
        refused_upgrades=link.refused,
        messages=conn.frames,
        bytes=conn.bytes,
        compression=conn.agreement is not None,
        wire_bytes=conn.wire_bytes,
        ends=dict(link.ends),
        queue_depth=queued.get("queue_depth", 0),
        queue_bytes=queued.get("queue_bytes", 0),
        drops=queued.get("drops", 0),
        bad_frames=link.bad_frames,
        requests_sent=link.requests_sent,
        subscriptions=sum(max(1, len(spec.codes)) for spec in link.wanted),
        in_sync=link.in_sync,
        last_error=link.last_error,
    )


def latency(values: list[float]) -> Latency:
    if not values:
        return Latency(p50=None, p99=None, max=None, samples=0)
    ordered = sorted(values)
    last = len(ordered) - 1
    return Latency(p50=ordered[last // 2], p99=ordered[int(last * 0.99)], max=ordered[-1],
                   samples=len(ordered))


def type_health(counts: Iterable[Mapping[str, list[Any]]], workers: Mapping[str, dict[str, Any]],
                now_wall: float) -> dict[str, TypeHealth]:
    """Per message type, from every router's counts and the workers' figures."""
    totals: dict[str, list[Any]] = {}
    for by_kind in counts:
        for kind, counters in list(by_kind.items()):
            messages, size, last_at = counters[:3]
            total = totals.setdefault(kind, [0, 0, 0.0])
            total[0] += messages
            total[1] += size
            total[2] = max(total[2], last_at)
    kinds = sorted({k for k, total in totals.items() if total[0]} | {k for k in workers if k})
    report = {}
    for kind in kinds:
        messages, size, last_at = totals.get(kind, [0, 0, 0.0])
        worker = workers.get(kind, {})
        report[kind] = TypeHealth(
            messages=messages, bytes=size, drops=worker.get("drops", 0),
            callback_errors=worker.get("callback_errors", 0),
            last_message_age_s=round(now_wall - last_at, 3) if last_at else None,
            receipt_to_callback=latency(worker.get("receipt_to_callback", [])),
            exchange_to_receipt=latency(worker.get("exchange_to_receipt", [])),
        )
    return report


def health_report(running: bool, links: Iterable[Link], routers: Iterable[Router], dispatcher: Dispatcher,
                  subscriptions: int, stale_after: float, backend: BackendHealth | None = None,
                  internal_errors: dict[str, int] | None = None) -> Health:
    """The whole report: every connection and type, the workers, and ``healthy`` over all of them."""
    queues = dispatcher.by_connection()
    now = time.monotonic()
    connections = {
        link.name: connection_health(link, now, stale_after, queues.get(link.name, {}))
        for link in links
    }
    return Health(
        healthy=running and all(c["healthy"] for c in connections.values()),
        running=running,
        connections=connections,
        types=type_health([r.counts for r in routers], dispatcher.by_type(), time.time()),
        dispatcher=dispatcher.stats(),
        subscriptions=subscriptions,
        rate_limit_backend=backend,
        internal_errors=internal_errors or {},
        feed=None,
    )


def reasons(health: Health) -> list[str]:
    """Why a report is not healthy, one line each (empty when it is)."""
    found = [] if health["running"] else ["the manager is not running"]
    for name, conn in health["connections"].items():
        if conn["healthy"]:
            continue
        if conn["state"] != "OPEN":
            why = f"{name} is {conn['state']}"
            found.append(why + (f": {conn['last_error']}" if conn["last_error"] else ""))
        else:
            found.append(f"{name} silent for {conn['last_message_age_s']}s")
    return found


# ---- Prometheus ------------------------------------------------------------------------------------


class PrometheusCollector:
    """A prometheus-client collector that reads a fresh report at each scrape: nothing is counted for
    it on the message path. Register it in a ``CollectorRegistry`` (``serve_health`` does)."""

    def __init__(self, report: Callable[[], Health]) -> None:
        self._report = report

    def describe(self) -> list[Any]:
        return []  # the families depend on what is running: described at each collect

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        health = self._report()
        up = GaugeMetricFamily("upbit_sync_healthy", "1 when every needed connection is open and live")
        up.add_metric([], 1.0 if health["healthy"] else 0.0)
        yield up
        conn_gauges = {
            "open": GaugeMetricFamily("upbit_sync_connection_open", "1 when the connection is open",
                                      labels=["connection"]),
            "age": GaugeMetricFamily("upbit_sync_connection_last_message_age_seconds",
                                     "seconds since anything arrived", labels=["connection"]),
            "depth": GaugeMetricFamily("upbit_sync_queue_depth", "messages held by the workers",
                                       labels=["connection"]),
            "queue_bytes": GaugeMetricFamily("upbit_sync_queue_bytes", "bytes of the frames held",
                                             labels=["connection"]),
        }
        conn_counters = {
            "messages": CounterMetricFamily("upbit_sync_connection_messages", "frames received",
                                            labels=["connection"]),
            "bytes": CounterMetricFamily("upbit_sync_connection_bytes", "frame bytes received",
                                         labels=["connection"]),
            "wire_bytes": CounterMetricFamily("upbit_sync_connection_wire_bytes",
                                              "frame bytes received, as they came over the wire "
                                              "(compressed)", labels=["connection"]),
            "bad_frames": CounterMetricFamily("upbit_sync_decode_errors", "frames that could not be read",
                                              labels=["connection"]),
            "recycles": CounterMetricFamily("upbit_sync_recycles", "sockets replaced to empty their set",
                                            labels=["connection"]),
            "drops": CounterMetricFamily("upbit_sync_connection_drops", "messages lost to overflow",
                                         labels=["connection"]),
        }
        reconnects = CounterMetricFamily("upbit_sync_reconnects", "sockets that ended unasked, by how",
                                         labels=["connection", "reason"])
        for name, conn in health["connections"].items():
            conn_gauges["open"].add_metric([name], 1.0 if conn["state"] == "OPEN" else 0.0)
            if conn["last_message_age_s"] is not None:
                conn_gauges["age"].add_metric([name], conn["last_message_age_s"])
            conn_gauges["depth"].add_metric([name], conn["queue_depth"])
            conn_gauges["queue_bytes"].add_metric([name], conn["queue_bytes"])
            conn_counters["messages"].add_metric([name], conn["messages"])
            conn_counters["bytes"].add_metric([name], conn["bytes"])
            conn_counters["wire_bytes"].add_metric([name], conn["wire_bytes"])
            conn_counters["bad_frames"].add_metric([name], conn["bad_frames"])
            conn_counters["recycles"].add_metric([name], conn["recycles"])
            conn_counters["drops"].add_metric([name], conn["drops"])
            for reason, n in conn["ends"].items():
                reconnects.add_metric([name, reason], n)
        yield from conn_gauges.values()
        yield from conn_counters.values()
        yield reconnects
        yield from _type_families(health["types"])


def _type_families(types: Mapping[str, TypeHealth]) -> Iterator[Any]:
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    messages = CounterMetricFamily("upbit_sync_messages", "messages routed", labels=["type"])
    size = CounterMetricFamily("upbit_sync_message_bytes", "bytes of the messages routed", labels=["type"])
    drops = CounterMetricFamily("upbit_sync_drops", "messages lost to overflow", labels=["type"])
    errors = CounterMetricFamily("upbit_sync_callback_errors", "callbacks that raised", labels=["type"])
    age = GaugeMetricFamily("upbit_sync_last_message_age_seconds", "since the last message",
                            labels=["type"])
    lat = GaugeMetricFamily("upbit_sync_latency_seconds", "latency over a sliding window",
                            labels=["type", "stage", "quantile"])
    for kind, figures in types.items():
        messages.add_metric([kind], figures["messages"])
        size.add_metric([kind], figures["bytes"])
        drops.add_metric([kind], figures["drops"])
        errors.add_metric([kind], figures["callback_errors"])
        if figures["last_message_age_s"] is not None:
            age.add_metric([kind], figures["last_message_age_s"])
        for stage, window in (("receipt_to_callback", figures["receipt_to_callback"]),
                              ("exchange_to_receipt", figures["exchange_to_receipt"])):
            for quantile, value in (("0.5", window["p50"]), ("0.99", window["p99"]), ("1", window["max"])):
                if value is not None:
                    lat.add_metric([kind, stage, quantile], value)
    yield from (messages, size, drops, errors, age, lat)


# ---- the HTTP endpoint ------------------------------------------------------------------------------


PROMETHEUS_MISSING = "the /metrics endpoint needs prometheus-client: pip install 'upbit-sync[prometheus]'\n"
CONNECTION_TIMEOUT = 5.0
"""Seconds one connection of the endpoint may stay open, and each socket operation may take: a client
that sends nothing, or dribbles its request, is cut then."""
MAX_CONNECTIONS = 16
"""Connections answered at once; one more is closed as soon as it is accepted (a probe retries; a flood
cannot pile up threads)."""
_POLL_INTERVAL = 0.2  # how often the listening thread checks for close() and overdue connections
_REFUSALS_TOLD_EVERY = 60.0  # seconds between two warnings of refused connections


class HealthServer:
    """``/healthz`` (JSON; 200 when healthy, 503 with the reasons) and ``/metrics`` (Prometheus text,
    501 without prometheus-client). One daemon thread, ``upbit-health``, accepts; each connection is
    answered on a daemon thread of its own, ``upbit-health-<n>``, so a silent client delays nobody.
    At most MAX_CONNECTIONS are open at once, each for at most CONNECTION_TIMEOUT; ``close()`` joins
    every thread."""

    def __init__(self, report: Callable[[], Health], host: str = "127.0.0.1", port: int = 0) -> None:
        self._report = report
        self._registry: Any = None
        self._lock = threading.Lock()
        self._open: dict[threading.Thread, tuple[socket.socket, float]] = {}  # -> (its socket, cut at)
        self._numbers = itertools.count(1)
        self._closing = False
        self._refused = 0  # connections refused since the last warning
        self._refusals_told_at: float | None = None
        self._server = _server_for(self, host, port)
        address = self._server.server_address
        self.host, self.port = str(address[0]), int(address[1])
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": _POLL_INTERVAL},
                                        name="upbit-health", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def close(self, timeout: float = 2.0) -> None:
        """Stop serving, cut every open connection and join every thread within ``timeout``.
        Idempotent."""
        deadline = time.monotonic() + timeout
        with self._lock:
            self._closing = True
        if self._thread.is_alive():
            self._server.shutdown()  # returns within a poll interval: the loop never blocks on a client
            self._thread.join(max(0.0, deadline - time.monotonic()))
        self._server.server_close()
        with self._lock:
            still_open = dict(self._open)
        for sock, _ in still_open.values():
            _cut(sock)
        for thread in still_open:
            thread.join(max(0.0, deadline - time.monotonic()))
        left = [t.name for t in [self._thread, *still_open] if t.is_alive()]
        if left:
            log.warning("health endpoint: %s still running %.1fs after close()", ", ".join(left), timeout)

    def healthz(self) -> tuple[int, bytes]:
        health = self._report()
        body = {"reasons": reasons(health), **health}
        return (200 if health["healthy"] else 503), json.dumps(body, default=str).encode()

    def metrics(self) -> tuple[int, str, bytes]:
        try:
            from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
        except ImportError:
            return 501, "text/plain; charset=utf-8", PROMETHEUS_MISSING.encode()
        if self._registry is None:
            self._registry = CollectorRegistry(auto_describe=False)
            self._registry.register(PrometheusCollector(self._report))
        return 200, CONTENT_TYPE_LATEST, generate_latest(self._registry)

    # ---- connections (the listening thread accepts, a thread of its own answers) -----------------------

    def _accept(self, request: socket.socket, address: Any) -> None:
        """A new connection: answered on a thread of its own, or closed at once when MAX_CONNECTIONS
        are open (or the endpoint is closing)."""
        timeout = CONNECTION_TIMEOUT
        request.settimeout(timeout)  # each read and write; _cut_overdue bounds the whole connection
        with self._lock:
            refused = self._closing or len(self._open) >= MAX_CONNECTIONS
            if not refused:
                thread = threading.Thread(target=self._answer, args=(request, address),
                                          name=f"upbit-health-{next(self._numbers)}", daemon=True)
                self._open[thread] = (request, time.monotonic() + timeout)
                try:  # under the lock: close() never sees a thread that has not started
                    thread.start()
                except RuntimeError:  # no thread to be had: as good as full
                    del self._open[thread]
                    refused = True
        if refused:
            self._refuse(request, address)

    def _answer(self, request: socket.socket, address: Any) -> None:
        try:
            self._server.finish_request(request, address)
        except Exception:
            self._server.handle_error(request, address)
        finally:
            self._server.shutdown_request(request)
            with self._lock:
                self._open.pop(threading.current_thread(), None)

    def _refuse(self, request: socket.socket, address: Any) -> None:
        """Close a connection unanswered; warn of it, then at most once a minute with the count since."""
        now = time.monotonic()
        with self._lock:
            self._refused += 1
            told = self._refusals_told_at is not None and now - self._refusals_told_at < _REFUSALS_TOLD_EVERY
            if not told:
                count, self._refused, self._refusals_told_at = self._refused, 0, now
        if not told:
            why = "closing" if self._closing else f"{MAX_CONNECTIONS} already open"
            log.warning("health endpoint: refused %d connection(s), the latest from %s: %s",
                        count, address, why)
        self._server.shutdown_request(request)

    def _cut_overdue(self) -> None:
        """Cut the connections open longer than CONNECTION_TIMEOUT (a request dribbled a byte at a time
        keeps each read within the socket's timeout); on the listening thread, every poll interval."""
        now = time.monotonic()
        with self._lock:
            overdue = [sock for sock, cut_at in self._open.values() if cut_at <= now]
        for sock in overdue:
            _cut(sock)


def _cut(sock: socket.socket) -> None:
    """End a connection from any thread: its thread's blocked read sees the end, a write fails."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:  # already ended
        pass


def _server_for(health: HealthServer, host: str, port: int) -> http.server.HTTPServer:
    """The listening side: an HTTPServer whose connections go to ``health`` (``_accept``), checked
    for overdue ones at each poll, whose errors go to the log, never to stderr."""
    import http.server  # here: only a program that serves its health pays for the module

    class Server(http.server.HTTPServer):
        def process_request(self, request: Any, client_address: Any) -> None:
            health._accept(request, client_address)

        def service_actions(self) -> None:
            health._cut_overdue()

        def handle_error(self, request: Any, client_address: Any) -> None:
            error = sys.exc_info()[1]
            if isinstance(error, OSError):  # the client hung up, reset or timed out: its business
                log.debug("health endpoint: %s hung up (%r)", client_address, error)
            else:
                log.warning("health endpoint: answering %s failed", client_address, exc_info=True)

    return Server((host, port), _handler_for(health))


def _handler_for(server: HealthServer) -> type[http.server.BaseHTTPRequestHandler]:
    import http.server

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            content_type = "text/plain; charset=utf-8"
            try:
                if path in ("/healthz", "/health", "/"):
                    content_type = "application/json"
                    status, body = server.healthz()
                elif path == "/metrics":
                    status, content_type, body = server.metrics()
                else:
                    status, body = 404, b"/healthz or /metrics\n"
            except Exception:  # a report that fails is the endpoint's fault: say so, and log why
                log.warning("health endpoint: answering %s failed", path, exc_info=True)
                status, content_type, body = 500, "text/plain; charset=utf-8", b"the report failed\n"
            self._answer(status, content_type, body)

        def _answer(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            if log.isEnabledFor(logging.DEBUG):  # the request line may carry a token in its query
                log.debug("health endpoint: %s", redact(format % args))

    return Handler
