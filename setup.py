"""Packaging for upbit-sync."""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
ABOUT: dict[str, str] = {}
exec((HERE / "upbit_sync" / "_version.py").read_text(encoding="utf-8"), ABOUT)

# The command line draws its live table, the demo's view and the recorder's status line with rich on a
# terminal (plain lines without it); the SDK itself never imports it.
CLI = ["rich>=13.7"]
TESTING = [
    *CLI,
    # 16.x is the last release for Python 3.10; 17.x needs 3.11. The fake exchange uses a few
    # websockets internals (server.py says which): pinned to the releases tested.
    "websockets>=16.0,<17; python_version < '3.11'",
    "websockets>=16.0,<18; python_version >= '3.11'",
]
FAST = ["orjson>=3.9"]
REDIS = ["redis>=5.0"]  # Config(rate_limit_backend="redis://..."): limits shared across machines
# Config(rate_limit_backend="sqlite:///..."): pyrate-limiter's SQLite bucket locks its file with
# filelock to serve several processes of one host
SQLITE = ["filelock>=3.12"]
# Config(proxy="socks5://..."): websocket-client reaches a SOCKS proxy through python-socks, requests
# through PySocks
SOCKS = ["python-socks>=2.4", "PySocks>=1.7"]
PROMETHEUS = ["prometheus-client>=0.20"]  # manager.serve_health(): /metrics in Prometheus' format
PANDAS = ["pandas>=2.0"]  # upbit_sync.to_frame(bars): candle bars as a DataFrame
# record --format parquet, Recorder(format="parquet") and read_recording: imported in record_parquet.py only
PARQUET = ["pyarrow>=15"]
DEV = [
    *TESTING, *REDIS, *SQLITE, *PROMETHEUS, *PANDAS, *PARQUET,
    "pytest>=8.0",
    "pytest-timeout>=2.2",
    "responses>=0.25",
    # tests only: docs/recording.md's DuckDB query is run against a recording by a test, so the
    # documented query cannot go stale; the SDK never imports it
    "duckdb>=1.0",
    "hypothesis>=6.100",
    "tox>=4.11; python_version >= '3.11'",
    "ruff>=0.6",
    "mypy>=1.10",
    "types-requests",
]

setup(
    name="upbit-sync",
    version=ABOUT["__version__"],
    description="A thread-based, synchronous SDK for Upbit's real-time WebSocket API",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="MIT",
    license_files=["LICENSE"],
    author="The upbit-sync developers",
    url="https://github.com/upbit-sync/upbit-sync",
    project_urls={
        "Source": "https://github.com/upbit-sync/upbit-sync",
        "Issues": "https://github.com/upbit-sync/upbit-sync/issues",
        "Changelog": "https://github.com/upbit-sync/upbit-sync/blob/main/CHANGELOG.md",
        "Documentation": "https://github.com/upbit-sync/upbit-sync/tree/main/docs",
    },
    keywords=["upbit", "websocket", "crypto", "exchange", "trading", "market data", "sdk"],
    python_requires=">=3.10",
    packages=find_packages(include=["upbit_sync", "upbit_sync.*"]),
    package_data={"upbit_sync": ["py.typed"]},
    include_package_data=True,
    zip_safe=False,
    install_requires=[
        # connection.py lists the websocket-client internals it relies on: pinned to those tested
        "websocket-client>=1.8,<1.10",
        "PyJWT>=2.8",
        "requests>=2.31",
        "pyrate-limiter>=4.0,<5",
        # frames decode straight into the typed messages, types checked, in C (benchmarks/results.md)
        "msgspec>=0.18,<1",
    ],
    extras_require={"cli": CLI, "testing": TESTING, "fast": FAST, "redis": REDIS, "sqlite": SQLITE,
                    "socks": SOCKS, "prometheus": PROMETHEUS, "pandas": PANDAS, "parquet": PARQUET,
                    "dev": DEV},
    entry_points={
        "console_scripts": ["upbit-sync=upbit_sync.cli:main"],
        "pytest11": ["upbit_sync=upbit_sync.testing.pytest_plugin"],
    },
    classifiers=[
        "Development Status :: 4 - Beta",
        "Intended Audience :: Developers",
        "Intended Audience :: Financial and Insurance Industry",
        "License :: OSI Approved :: MIT License",
        "Operating System :: OS Independent",
        "Programming Language :: Python :: 3",
        "Programming Language :: Python :: 3.10",
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Programming Language :: Python :: 3.13",
        "Typing :: Typed",
        "Topic :: Office/Business :: Financial :: Investment",
    ],
)
