"""A stand-in for GitHub: repositories, branches and pull requests in a JSON file.

    python -m tests.mcp_servers.github_server --state github.json [--transport http --port N]
"""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from tests.mcp_servers.common import (
    CREATES,
    DELETES,
    READ_ONLY,
    UPDATES,
    JsonState,
    add_status_tool,
    parse_args,
    serve,
)

RepoName = Annotated[
    str, Field(description="Repository name", pattern=r"^[a-z][a-z0-9-]{0,38}$")
]
BranchName = Annotated[
    str, Field(description="Branch name", pattern=r"^[a-z][a-z0-9/_-]{0,62}$")
]


class Repository(BaseModel):
    name: str
    url: str
    private: bool
    description: str
    default_branch: str
    branches: list[str]


class PullRequest(BaseModel):
    repository: str
    number: int
    head: str
    base: str
    title: str
    state: str
    url: str


class Commit(BaseModel):
    sha: str
    message: str


def build(state: JsonState) -> MCPServer:
    server = MCPServer("github", instructions="Repositories, branches and pull requests.")
    add_status_tool(server)

    def repo(data: dict[str, Any], name: str) -> dict[str, Any]:
        found: dict[str, Any] | None = data["repositories"].get(name)
        if found is None:
            raise ToolError(f"repository {name!r} does not exist")
        return found

    def as_repository(name: str, r: dict[str, Any]) -> Repository:
        return Repository(
            name=name, url=f"https://github.test/{name}", private=r["private"],
            description=r["description"], default_branch="main", branches=r["branches"],
        )

    @server.tool(annotations=CREATES)
    def create_repository(
        name: RepoName, private: bool = False, description: str = ""
    ) -> Repository:
        """Create a repository with a `main` branch. Fails if the name is taken."""
        data = state.load()
        if name in data["repositories"]:
            raise ToolError(f"repository {name!r} already exists")
        data["repositories"][name] = {
            "private": private, "description": description, "branches": ["main"],
            "pull_requests": [],
        }
        state.save(data)
        return as_repository(name, data["repositories"][name])

    @server.tool(annotations=DELETES)
    def delete_repository(name: RepoName) -> str:
        """Delete a repository with its branches and pull requests. Deleting one that
        does not exist succeeds, so an undo can be repeated."""
        data = state.load()
        existed = data["repositories"].pop(name, None) is not None
        state.save(data)
        return f"deleted {name}" if existed else f"{name} did not exist"

    @server.tool(annotations=READ_ONLY)
    def get_repository(name: RepoName) -> Repository:
        """Show one repository."""
        return as_repository(name, repo(state.load(), name))

    @server.tool(annotations=READ_ONLY)
    def list_repositories() -> list[str]:
        """Names of all repositories."""
        return sorted(state.load()["repositories"])

    @server.tool(annotations=CREATES)
    def create_branch(repository: RepoName, branch: BranchName, base: str = "main") -> Repository:
        """Create a branch from an existing one."""
        data = state.load()
        r = repo(data, repository)
        if base not in r["branches"]:
            raise ToolError(f"branch {base!r} does not exist in {repository!r}")
        if branch in r["branches"]:
            raise ToolError(f"branch {branch!r} already exists in {repository!r}")
        r["branches"].append(branch)
        state.save(data)
        return as_repository(repository, r)

    @server.tool(annotations=DELETES)
    def delete_branch(repository: RepoName, branch: BranchName) -> str:
        """Delete a branch (never `main`)."""
        if branch == "main":
            raise ToolError("the main branch cannot be deleted")
        data = state.load()
        r = repo(data, repository)
        if branch in r["branches"]:
            r["branches"].remove(branch)
        state.save(data)
        return f"deleted {repository}:{branch}"

    @server.tool(annotations=CREATES)
    def open_pull_request(
        repository: RepoName, head: BranchName, title: Annotated[str, Field(min_length=1)],
        base: BranchName = "main",
    ) -> PullRequest:
        """Open a pull request from `head` into `base`."""
        data = state.load()
        r = repo(data, repository)
        for branch in (head, base):
            if branch not in r["branches"]:
                raise ToolError(f"branch {branch!r} does not exist in {repository!r}")
        number = len(r["pull_requests"]) + 1
        pr = {"number": number, "head": head, "base": base, "title": title, "state": "open"}
        r["pull_requests"].append(pr)
        state.save(data)
        url = f"https://github.test/{repository}/pull/{number}"
        return PullRequest(repository=repository, url=url, **pr)

    @server.tool(annotations=UPDATES)
    def close_pull_request(repository: RepoName, number: int) -> str:
        """Close a pull request without merging it."""
        data = state.load()
        for pr in repo(data, repository)["pull_requests"]:
            if pr["number"] == number:
                pr["state"] = "closed"
                state.save(data)
                return f"closed {repository}#{number}"
        raise ToolError(f"{repository!r} has no pull request #{number}")

    @server.tool(annotations=READ_ONLY)
    def list_commits(
        repository: RepoName, count: Annotated[int, Field(ge=1, le=100_000)] = 20
    ) -> list[Commit]:
        """The newest `count` commits of the default branch."""
        repo(state.load(), repository)
        return [
            Commit(sha=f"{i:040x}", message=f"Commit {i} of {repository}: change the widgets")
            for i in range(count, 0, -1)
        ]

    return server


if __name__ == "__main__":
    args = parse_args("github")
    serve(build(JsonState(args.state, {"repositories": {}})), args)
