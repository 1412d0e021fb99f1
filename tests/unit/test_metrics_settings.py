"""Metrics that cannot be served are told before anything starts, naming the setting."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from orchestrator.errors import InvalidInput
from orchestrator.settings import Settings
from worker.client import metrics_runtime


def test_no_metrics_port_means_no_metrics(tmp_path: Path) -> None:
    assert metrics_runtime(Settings(data_dir=tmp_path)) is None


def test_a_taken_metrics_port_is_named(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(InvalidInput, match=rf"metrics port {port} is taken "
                                               r"\(ORCHESTRATOR_METRICS_PORT\)"):
            metrics_runtime(Settings(data_dir=tmp_path, metrics_port=port))


def test_a_host_metrics_cannot_be_served_on_is_named(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"metrics cannot be served on not-an-address:9 "
                                           r"\(ORCHESTRATOR_METRICS_HOST/PORT\): .*address"):
        metrics_runtime(Settings(data_dir=tmp_path, metrics_host="not-an-address",
                                 metrics_port=9))
