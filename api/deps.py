"""Dependencies shared by the routers, as `Annotated` aliases."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Request
from temporalio.client import Client

from orchestrator.settings import Settings


def _client(request: Request) -> Client:
    return cast(Client, request.app.state.temporal)


def _settings(request: Request) -> Settings:
    return cast(Settings, request.app.state.settings)


TemporalClientDep = Annotated[Client, Depends(_client)]
SettingsDep = Annotated[Settings, Depends(_settings)]
