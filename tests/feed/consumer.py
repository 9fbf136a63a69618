"""A consumer process of the feed tests: reads trades from a feed in a consumer group and writes
``code sequential_id`` per message, one line each, flushed, to a file; SIGTERM closes the client
cleanly (what was delivered is acknowledged) and exits 0.

    python tests/feed/consumer.py URL PREFIX GROUP CONSUMER OUTFILE CODE...
"""

from __future__ import annotations

import signal
import sys
import threading


def main(argv: list[str]) -> int:
    import upbit_sync as us
    from upbit_sync.feed_manager import FeedManager

    url, prefix, group, consumer, path, *codes = argv
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    manager = FeedManager(us.Config(reconnect_delay=0.1, reconnect_max_delay=0.5), feed=url, group=group,
                          consumer=consumer, prefix=prefix, block=0.1)
    with open(path, "a", encoding="utf-8") as out:
        lock = threading.Lock()

        def seen(trade: us.Trade) -> None:
            with lock:
                out.write(f"{trade.code} {trade.sequential_id}\n")
                out.flush()

        client = us.WebSocketClient(manager)
        client.subscribe("trade", codes, seen)
        print("subscribed", flush=True)
        stop.wait(120)
        manager.stop()  # the reader stops and what the workers delivered is acknowledged
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
