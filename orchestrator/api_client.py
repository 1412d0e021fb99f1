"""A client of the orchestrator's API for the command line: one clear error when
the API is not there, refusals printed as the API words them, and the list of runs."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, TextIO
from urllib.parse import quote

import httpx

from orchestrator.errors import ServiceUnreachable

# A request that starts a run is answered once the run is planned: a model may
# take its timeout up to three times before the rules stand in.
START_TIMEOUT_S = 300.0


@contextlib.asynccontextmanager
async def session(api: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the API: not reaching it is one clear error, not a traceback; nor
    is an API that is there but slow to answer, which is another error."""
    try:
        async with httpx.AsyncClient(base_url=api, timeout=30) as http:
            yield http
    except (httpx.ConnectError, httpx.ConnectTimeout) as err:
        raise ServiceUnreachable(
            f"cannot reach the API at {api} ({type(err).__name__}): is `orchestrator up` "
            "running? (--api names another)"
        ) from err
    except httpx.TimeoutException as err:
        raise ServiceUnreachable(
            f"the API at {api} took the request but did not answer in time "
            f"({type(err).__name__}): what it waits for is slow (a model, the graph); a "
            "run it was starting may be under way: `orchestrator runs` lists it"
        ) from err
    except httpx.TransportError as err:
        raise ServiceUnreachable(
            f"lost the API at {api} ({type(err).__name__}): did `orchestrator up` stop?"
        ) from err


def run_path(workflow_id: str) -> str:
    """The API's path of one run; the id quoted whole, so that whatever it holds
    ("a/../b") names that run and no other path."""
    return f"/v1/workflows/{quote(workflow_id, safe='')}"


def body_of(reply: httpx.Response) -> dict[str, Any]:
    """The API's answer as an object; a body that is not one (a proxy's page) as its
    `detail`."""
    if reply.headers.get("content-type", "").startswith("application/json"):
        body = reply.json()
        if isinstance(body, dict):
            return body
    return {"detail": reply.text}


def show_refusal(reply: httpx.Response, out: TextIO) -> None:
    body = body_of(reply)
    detail, problem = body.get("detail"), body.get("problem")
    if isinstance(problem, dict):  # a request the orchestrator would not run
        reasons = problem.get("details", [])
        # With its reasons listed below, the headline is the problem alone.
        headline = problem.get("message") if reasons else None
        out.write(f"Refused: {headline or detail}\n")
        for why in reasons:
            out.write(f"  - {why}\n")
        _show_refused_plan(body.get("plan"), out)
    elif isinstance(detail, list):  # the API's validation errors: what, and where
        out.write(f"Refused ({reply.status_code}): {'; '.join(map(_invalid, detail))}\n")
    else:
        out.write(f"Refused ({reply.status_code}): {detail}\n")


def _show_refused_plan(plan: Any, out: TextIO) -> None:
    """The steps of a plan refused as not valid: what the request would have run."""
    if not isinstance(plan, dict) or not plan.get("steps"):
        return
    steps = plan["steps"]
    out.write(f"The plan refused ({len(steps)} steps):\n")
    for step in steps:
        after = step.get("depends_on") or []
        out.write(f"  {step.get('id')}: {step.get('capability')}"
                  + (f" (after {', '.join(after)})" if after else "") + "\n")


def _invalid(error: Any) -> str:
    """One validation error as `field: what is wrong` (the field as sent, not
    where FastAPI found it: `body.message` is the request's `message`, `query.status`
    the `status` asked for)."""
    if not isinstance(error, dict):
        return str(error)
    loc = [str(part) for part in error.get("loc", [])]
    field = ".".join(loc[1:] if loc[:1] in (["body"], ["query"], ["path"]) else loc)
    return f"{field}: {error.get('msg')}" if field else str(error.get("msg"))


async def list_runs(api: str, out: TextIO, filters: dict[str, str | None], limit: int,
                    page: str | None = None, api_option: str = "") -> int:
    """Print a page of runs, one a line; say how to ask for the next page."""
    asked = {key: value for key, value in filters.items() if value}
    params: dict[str, str | int] = {**asked, "limit": limit}
    if page:
        params["page_token"] = page
    async with session(api) as http:
        reply = await http.get("/v1/workflows", params=params)
    if reply.status_code != 200:
        show_refusal(reply, out)
        return 2
    listing = reply.json()
    if not listing["runs"]:
        out.write("no runs" + (" like that\n" if asked else " yet\n"))
    for run in listing["runs"]:
        out.write(run_line(run) + "\n")
    token = listing["next_page_token"]
    if token:
        options = "".join(f" --{key} {value}" for key, value in asked.items())
        out.write(f"more: orchestrator runs --page {token} --limit {limit}{options}"
                  f"{api_option}\n")
    return 0


def run_line(run: dict[str, Any]) -> str:
    """`<id>  <status>  <started, local time>  <tenant>  <intent>`; a run ended from
    outside shows Temporal's word for how (terminated, timed_out)."""
    started = datetime.fromisoformat(run["started_at"]).astimezone()
    status = run["status"] or run["execution_status"]
    # A run that failed with no intent never ran a plan: its request was refused (it
    # could not be planned, or its plan was not valid: `orchestrator watch` says why).
    intent = run["intent"] or ("(refused)" if status == "failed" else "")
    if run.get("dry_run"):
        intent = f"(dry run) {intent}"
    return (f"{run['workflow_id']}  {status:<17}  {started:%Y-%m-%d %H:%M:%S}  "
            f"{run['tenant'] or ''}  {intent}").rstrip()
