"""S4: several MCP servers in one workflow, with the built-in agents, on the real
dev server: our stateful github (stdio), cloud (streamable HTTP) and chat (stdio)
servers and the reference git, filesystem and everything servers."""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client

from orchestrator.chat_client import _until_finished
from orchestrator.devserver import DevServer
from orchestrator.models import EntityRef, ProblemKind, RunStatus, StepStatus
from tests.integration.stack import Stack, mcp_stack, result_of, run_waited, start, wait_until
from tests.mcp.support import HttpServerProcess, ensure_npm_servers, node_server, python_server

# What the planner needs to know that MCP does not say: what each tool makes and
# needs, and which tool undoes it.
GITHUB = {"create_repository": {"produces": ["repository"], "compensation": "delete_repository"}}
# And what a user configures once rather than says each time: deployments go to
# the cluster `edge`, notifications to #releases.
CLOUD = {
    "provision_cluster": {"produces": ["cluster"], "compensation": "deprovision_cluster"},
    "deploy": {"consumes": ["repository", "cluster"], "produces": ["deployment"],
               "compensation": "undeploy", "defaults": {"cluster": "edge"}},
}
CHAT = {"post_message": {"consumes": ["deployment"], "compensation": "delete_message",
                         "defaults": {"channel": "releases"}}}
QUICK = {"initial_interval_ms": 50, "max_attempts": 2}


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpServerProcess]:
    server = HttpServerProcess("cloud_server", tmp_path_factory.mktemp("aws") / "cloud.json")
    server.start()
    yield server
    server.kill()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    for args in (["init", "-q", "-b", "main"], ["config", "user.email", "dev@example.com"],
                 ["config", "user.name", "Dev"]):
        subprocess.run(["git", "-C", str(path), *args], check=True)
    (path / "README.md").write_text("# shop\n")
    return path


@pytest.fixture
async def s4(
    client: Client, temporal_server: DevServer, tmp_path: Path, cloud: HttpServerProcess,
    repo: Path,
) -> AsyncIterator[Stack]:
    ensure_npm_servers()
    files = tmp_path / "files"
    files.mkdir()
    servers: dict[str, Any] = {
        "github": python_server("github_server", "--state", str(tmp_path / "github.json"),
                                tools=GITHUB, retry=QUICK),
        "aws": cloud.entry(tools=CLOUD, retry=QUICK),
        "slack": python_server("chat_server", "--state", str(tmp_path / "chat.json"),
                               tools=CHAT, retry=QUICK),
        "git": {"command": sys.executable,
                "args": ["-m", "mcp_server_git", "--repository", str(repo)]},
        # Writing a file asks for an approval by default; this run is trusted.
        "fs": {**node_server("server-filesystem", str(files)),
               "orchestrator": {"sensitive": False}},
        # Its slow tools are given 6 s: a cancel must reach one well within that.
        "everything": {**node_server("server-everything"),
                       "orchestrator": {"sensitive": False, "retry": QUICK,
                                        "timeout_ms": 6000}},
    }
    async with mcp_stack(client, temporal_server.address, tmp_path, servers) as stack:
        # Every server listed before the first request: a connect that failed at
        # start-up is tried again a second later (orchestrator/mcp/sync.py). On
        # Python 3.11.7 one does fail now and then, a race in CPython's AST
        # construction between threads (gh-106905, fixed in 3.11.8).
        async with asyncio.timeout(30):
            while any(stack.runtime.hub.tools(name) is None for name in servers):  # noqa: ASYNC110
                await asyncio.sleep(0.2)
        yield stack




def _state(stack: Stack, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((stack.settings.data_dir.parent / name).read_text())
    return data


async def test_s4_tools_of_six_servers_and_built_in_agents_in_one_run(
    s4: Stack, cloud: HttpServerProcess, repo: Path, tmp_path: Path
) -> None:
    report = tmp_path / "files" / "release.txt"
    result = await run_waited(s4, (
        "create application shop then "
        "GitHub create repository name=shop -> "
        "AWS provision cluster name=prod region=eu-west-1 nodes=2, deploy app=shop -> "
        "Slack notification channel=releases text=shipped, "
        f"git status repo_path={repo}, "
        f"fs write file path={report} content=released, "
        "everything long running operation duration=0.3 steps=3"
    ))
    assert result.status == RunStatus.COMPLETED, result.problem
    assert result.plan is not None
    by_capability = {s.capability: s for s in result.plan.steps}
    assert sorted(by_capability) == [
        "application.create", "mcp.aws.deploy", "mcp.aws.provision_cluster",
        "mcp.everything.trigger-long-running-operation", "mcp.fs.write_file",
        "mcp.git.git_status", "mcp.github.create_repository", "mcp.slack.post_message",
    ]
    deploy = by_capability["mcp.aws.deploy"]
    provision = by_capability["mcp.aws.provision_cluster"]
    repository = by_capability["mcp.github.create_repository"]
    # Order from what the tools make and need, and from the chain's links.
    assert set(deploy.depends_on) == {provision.id, repository.id}
    assert by_capability["application.create"].id in repository.depends_on
    # The cluster's name came from the provisioning step's output.
    assert deploy.parameters["cluster"] == (
        f"${{steps.{provision.id}.output.structured_content.name}}")
    steps = result.steps
    assert steps[deploy.id].parameters == {"cluster": "prod", "app": "shop"}
    deployed = steps[deploy.id].output
    assert deployed is not None
    assert deployed["structured_content"]["url"] == "https://shop.prod.apps.test"
    for step in result.plan.steps:  # each ran after everything it depends on
        started = steps[step.id].started_at
        for before in step.depends_on:
            finished = steps[before].finished_at
            assert started is not None and finished is not None and finished <= started
    # Each server really did its part.
    assert "shop" in _state(s4, "github.json")["repositories"]
    assert json.loads(cloud.state.read_text())["clusters"]["prod"]["deployments"] == {
        "shop": "latest"}
    assert [m["text"] for m in _state(s4, "chat.json")["channels"]["releases"]] == ["shipped"]
    assert report.read_text() == "released"
    git_status = steps[by_capability["mcp.git.git_status"].id].output
    assert git_status is not None and "README.md" in git_status["text"]

    # The graph shows which server did what: step -> agent, server -> tool -> capability.
    await s4.runtime.mirror.flush()
    graph = await s4.runtime.store.run_graph(result.workflow_id)
    assert (deploy.id, "mcp-aws") in graph.executed_by
    assert (repository.id, "mcp-github") in graph.executed_by
    # And what each made or used: the step's key owns what it made.
    store = s4.runtime.store
    touched = set(graph.operates_on)
    assert (repository.id, "repository:shop") in touched
    assert (provision.id, "cluster:prod") in touched
    assert {(deploy.id, "cluster:prod"), (deploy.id, "application:shop")} <= touched
    made = await store.get_entity(EntityRef(kind="repository", name="shop"))
    assert made is not None and made.created_by == f"{result.workflow_id}/{repository.id}"
    # Nothing else: no path, text or number was taken for an entity.
    assert sorted(e.ref.key for e in await store.find_entities()) == [
        "application:shop", "cluster:prod", "repository:shop"]

    servers = {s.name: s for s in await s4.runtime.store.mcp_servers()}
    assert sorted(servers) == ["aws", "everything", "fs", "git", "github", "slack"]
    assert ("deploy", "mcp.aws.deploy") in {(t.name, t.capability) for t in servers["aws"].tools}
    reply = await s4.http.get("/v1/mcp/servers/aws/graph")
    assert reply.status_code == 200, reply.text
    assert reply.json()["agent"] == "mcp-aws"
    assert "mcp.aws.deploy" in {t["capability"] for t in reply.json()["tools"]}


async def test_s4_a_failing_tool_rolls_back_earlier_tools_on_their_servers(s4: Stack) -> None:
    result = await run_waited(s4, (
        "GitHub create repository name=doomed -> "
        "Slack notification channel=ops text=starting -> "
        "AWS deploy cluster=nowhere app=doomed fail=quota-exceeded"
    ))
    assert result.status == RunStatus.ROLLED_BACK, result.problem
    assert result.problem is not None and result.problem.kind == ProblemKind.STEP_FAILED
    assert "quota-exceeded" in result.problem.message
    assert {r.status for i, r in result.steps.items() if i != "aws-deploy"} == {
        StepStatus.COMPENSATED}
    # The message went before the repository: reverse order of the chain.
    undo = result.compensations
    first = undo["slack-post_message"].finished_at
    second = undo["github-create_repository"].started_at
    assert first is not None and second is not None and first <= second
    assert "doomed" not in _state(s4, "github.json")["repositories"]
    assert _state(s4, "chat.json")["channels"]["ops"] == []
    # The repository's undo removed it from the graph too; the deploy that failed
    # recorded nothing.
    assert await s4.runtime.store.get_entity(EntityRef(kind="repository", name="doomed")) is None
    used = await s4.runtime.store.get_entity(EntityRef(kind="cluster", name="nowhere"))
    assert used is None


async def test_s4_a_rollback_says_which_tool_steps_nothing_undoes(
    s4: Stack, tmp_path: Path
) -> None:
    kept = tmp_path / "files" / "kept.txt"
    result = await run_waited(s4, (
        f"fs write file path={kept} content=kept -> "
        "AWS deploy cluster=nowhere app=kept fail=quota-exceeded"
    ))
    assert result.status == RunStatus.ROLLED_BACK, result.problem
    assert result.problem is not None
    written = next(i for i in result.steps if "write_file" in i)
    assert result.steps[written].status == StepStatus.COMPLETED and kept.exists()
    # No compensation is configured for it: "rolled back" must not read as "none left".
    assert (f"not undone: {written} (mcp.fs.write_file has no compensation)"
            in result.problem.details), result.problem.details


async def test_s4_what_a_tool_made_is_found_by_a_later_request(s4: Stack) -> None:
    created = await run_waited(s4, "GitHub create repository name=shop")
    assert created.status == RunStatus.COMPLETED, created.problem
    # "my repo": no earlier step of this request made one; the graph holds one.
    result = await run_waited(s4, "GitHub open pull request on my repo head=main title=first")
    assert result.status == RunStatus.COMPLETED, result.problem
    assert result.plan is not None
    [step] = result.plan.steps
    assert step.parameters == {"repository": "shop", "head": "main", "title": "first"}
    assert [pr["title"] for pr in _state(s4, "github.json")["repositories"]["shop"][
        "pull_requests"]] == ["first"]
    # The graph ties the pull request's step to the repository an earlier run made.
    graph = await s4.runtime.store.run_graph(result.workflow_id)
    assert graph.operates_on == [(step.id, "repository:shop")]



async def test_s4_everything_server_errors_end_the_run_cleanly(s4: Stack) -> None:
    result = await run_waited(
        s4, "everything gzip file as resource name=x data=ftp://example.com/x")
    assert result.status == RunStatus.ROLLED_BACK
    [step] = result.steps.values()
    assert step.status == StepStatus.FAILED and step.attempts == QUICK["max_attempts"]
    assert step.error is not None and "Unsupported URL protocol" in step.error


async def test_s4_unknown_tools_cannot_be_planned_and_say_what_was_understood(
    s4: Stack,
) -> None:
    reply = await s4.http.post("/v3/ai/chat", json={
        "message": "GitHub create repository name=x -> Jira open ticket", "wait": True})
    assert reply.status_code == 422, reply.text
    problem = reply.json()["problem"]
    assert problem["kind"] == ProblemKind.CANNOT_PLAN
    assert problem["understood"] == [
        "GitHub create repository name=x → mcp.github.create_repository"]
    [not_understood] = problem["not_understood"]
    assert not_understood.startswith("Jira open ticket: no tool knows 'jira', 'ticket'")


async def test_s4_deploy_my_app_is_planned_from_the_graph_and_runs(
    s4: Stack, cloud: HttpServerProcess
) -> None:
    created = await run_waited(s4, "create application shop")
    assert created.status == RunStatus.COMPLETED, created.problem
    # Said in words: the name next to its noun, the region by its pattern.
    provisioned = await run_waited(s4, "provision cluster edge in eu-west-1 on aws")
    assert provisioned.status == RunStatus.COMPLETED, provisioned.problem
    assert provisioned.plan is not None
    assert [s.parameters for s in provisioned.plan.steps] == [
        {"name": "edge", "region": "eu-west-1"}]

    result = await run_waited(s4, "deploy my app using GitHub → AWS → Slack notifications")
    assert result.status == RunStatus.COMPLETED, result.problem
    assert result.plan is not None
    by_capability = {s.capability: s for s in result.plan.steps}
    assert sorted(by_capability) == [
        "mcp.aws.deploy", "mcp.github.create_repository", "mcp.slack.post_message"]
    repository = by_capability["mcp.github.create_repository"]
    deploy = by_capability["mcp.aws.deploy"]
    notify = by_capability["mcp.slack.post_message"]
    assert deploy.depends_on == [repository.id] and notify.depends_on == [deploy.id]
    # "my app" is the graph's one application; the cluster and the channel are the
    # configured defaults.
    assert result.steps[repository.id].parameters == {"name": "shop"}
    assert result.steps[deploy.id].parameters == {"cluster": "edge", "app": "shop"}
    assert "shop" in _state(s4, "github.json")["repositories"]
    assert json.loads(cloud.state.read_text())["clusters"]["edge"]["deployments"] == {
        "shop": "latest"}
    # The message tells what the deployment did, from its result.
    assert [m["text"] for m in _state(s4, "chat.json")["channels"]["releases"]] == [
        "mcp.aws.deploy finished: cluster=edge, app=shop, version=latest, "
        "url=https://shop.edge.apps.test"]

    # The same request again: the repository is in the graph now, and GitHub was
    # named only to make it. Deploying needs it, not a second one ("already exists").
    again = await run_waited(s4, "deploy my app using GitHub → AWS → Slack notifications")
    assert again.status == RunStatus.COMPLETED, again.problem
    assert again.plan is not None
    assert [s.capability for s in again.plan.steps] == ["mcp.aws.deploy", "mcp.slack.post_message"]
    assert "GitHub → repository shop exists already: not made again" in again.plan.intent
    assert len(_state(s4, "chat.json")["channels"]["releases"]) == 2


async def test_s4_deploy_my_app_is_refused_when_the_graph_holds_two_applications(
    s4: Stack,
) -> None:
    for name in ("shop", "blog"):
        created = await run_waited(s4, f"create application {name}")
        assert created.status == RunStatus.COMPLETED, created.problem
    reply = await s4.http.post("/v3/ai/chat", json={
        "message": "deploy my app using GitHub → AWS → Slack notifications", "wait": True})
    assert reply.status_code == 422, reply.text
    problem = reply.json()["problem"]
    assert problem["kind"] == ProblemKind.CANNOT_PLAN
    assert "which application is 'my app'? blog or shop" in problem["message"]
    assert _state(s4, "github.json")["repositories"] == {}


async def test_s4_a_tool_call_cancelled_stops_at_once_as_cancelled(s4: Stack) -> None:
    """A cancel reaches a running tool with the answer to a heartbeat: within a
    second, not when its 6 s are nearly up (it then ended as timed out). Sent after
    the tool's first progress (a heartbeat), when the worker would hold the next
    one back for 80 % of the 10 s heartbeat timeout."""
    wf = await start(s4.http, "everything long running operation duration=20 steps=20")
    await wait_until(s4.http, wf, lambda r: any(
        x.status == StepStatus.RUNNING for x in r.steps.values()))
    await asyncio.sleep(2.0)
    cancelled = await s4.http.post(f"/v1/workflows/{wf}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    result = await result_of(s4.client, wf)
    [step] = result.steps.values()
    assert result.status == RunStatus.CANCELLED
    assert step.status == StepStatus.CANCELLED, step.error


async def test_s4_a_running_tool_shows_its_progress(s4: Stack) -> None:
    wf = await start(s4.http, "everything long running operation duration=4 steps=4")
    shown = None
    async with asyncio.timeout(15):
        while shown is None:
            state = (await s4.http.get(f"/v1/workflows/{wf}")).json()
            [step] = state["steps"].values()
            assert step["status"] in ("pending", "running"), step
            shown = step["progress"]
            await asyncio.sleep(0.1)
    # What the server reported last, of its 4 steps (server-everything counts them).
    assert shown.split(":")[0] in ("1/4", "2/4", "3/4", "4/4"), shown
    assert (await result_of(s4.client, wf)).status == RunStatus.COMPLETED


async def test_s4_a_followed_run_prints_a_running_tools_progress(s4: Stack) -> None:
    # What `orchestrator chat` and `watch` print, read from the real API.
    wf = await start(s4.http, "everything long running operation duration=5 steps=5")
    out = io.StringIO()
    state = await _until_finished(s4.http, wf, out)
    assert state.status == RunStatus.COMPLETED, out.getvalue()
    notes = [line for line in out.getvalue().splitlines() if line.startswith("  ⋯ ")]
    # The tool reports each second and heartbeats reach Temporal at most each
    # second: not every count is seen, but several are, in order, each once.
    counts = [line.split(": ", 1)[1].split(":")[0] for line in notes]
    assert len(counts) >= 2 and counts == sorted(set(counts)), out.getvalue()
    assert set(counts) <= {f"{n}/5" for n in range(1, 6)}, out.getvalue()
