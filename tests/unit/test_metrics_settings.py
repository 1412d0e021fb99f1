"""Metrics that cannot be served are told before anything starts, naming the setting."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from orchestrator.devserver import free_port
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
    with pytest.raises(InvalidInput, match=r"metrics cannot be served on no-such-host\.:9 "
                                           r"\(ORCHESTRATOR_METRICS_HOST\): the host does "
                                           r"not resolve"):
        metrics_runtime(Settings(data_dir=tmp_path, metrics_host="no-such-host.",
                                 metrics_port=9))


@pytest.mark.parametrize("host", ["localhost", "::1", "127.0.0.1"])
def test_metrics_are_served_on_a_name_or_an_address_of_either_family(
    tmp_path: Path, host: str
) -> None:
    port = free_port()
    runtime = metrics_runtime(Settings(data_dir=tmp_path, metrics_host=host,
                                       metrics_port=port))
    assert runtime is not None
    family = socket.AF_INET6 if host == "::1" else socket.AF_INET
    where = "::1" if host == "::1" else "127.0.0.1"
    with socket.socket(family) as sock:
        assert sock.connect_ex((where, port)) == 0


def test_an_empty_metrics_port_means_none(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCHESTRATOR_METRICS_PORT", "")
    assert Settings(data_dir=tmp_path).metrics_port is None
