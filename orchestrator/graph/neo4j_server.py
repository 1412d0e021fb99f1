"""Builds and runs the project's own Neo4j 5.26 community server (`neo4j-launcher/`).

For development and tests: Neo4j embedded in a small Java program that opens the
Bolt connector on loopback. Maven builds it once; the jar and its classpath are
cached under a key made of the launcher's sources, so later starts skip Maven.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import hashlib
import logging
import os
import secrets
import shutil
import subprocess
import time
from pathlib import Path
from types import TracebackType

from neo4j import AsyncGraphDatabase

from orchestrator.devserver import listening

log = logging.getLogger(__name__)

LAUNCHER_DIR = Path(__file__).parents[2] / "neo4j-launcher"
MAIN_CLASS = "orchestrator.neo4j.Launcher"
USER = "neo4j"
READY = "ready bolt://"
# Heap kept modest for 2-core laptops and CI; the page cache (128 MB) is set in the
# launcher. The --add-opens are those Neo4j's own start script passes on Java 17.
JVM_OPTIONS = (
    "-Xms256m", "-Xmx1g", "-XX:+ExitOnOutOfMemoryError", "-Dlog4j2.disable.jmx=true",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
)


class Neo4jServerError(RuntimeError):
    """The launcher could not be built or the server did not start."""


def default_cache_dir() -> Path:
    return Path.home() / ".cache" / "orchestrator" / "neo4j-launcher"


def launcher_key(source: Path = LAUNCHER_DIR) -> str:
    """A hash of the pom and the Java sources: a change to either means a new build."""
    digest = hashlib.sha256()
    for path in sorted([source / "pom.xml", *(source / "src").rglob("*.java")]):
        digest.update(path.relative_to(source).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def build_launcher(source: Path = LAUNCHER_DIR, cache: Path | None = None) -> list[Path]:
    """The launcher's classpath (its jar first), built with Maven unless cached."""
    if not (source / "pom.xml").exists():
        raise Neo4jServerError(f"the Neo4j launcher's sources are missing: {source}")
    target = (cache or default_cache_dir()) / launcher_key(source)
    target.parent.mkdir(parents=True, exist_ok=True)
    # One build at a time, across processes: they share the sources' target/.
    with (target.parent / "build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        classpath = _cached_classpath(target)
        if classpath is None:
            classpath = _maven_build(source, target)
    return classpath


def _cached_classpath(target: Path) -> list[Path] | None:
    listing = target / "classpath.txt"
    if not listing.exists():
        return None
    classpath = [Path(p) for p in listing.read_text().split(os.pathsep) if p]
    # A cleaned Maven repository leaves a listing of jars that are gone.
    return classpath if all(p.exists() for p in classpath) else None


def _maven_build(source: Path, target: Path) -> list[Path]:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise Neo4jServerError("Maven (`mvn`) is needed to build the Neo4j launcher")
    started = time.monotonic()
    listing = source / "target" / "classpath.txt"
    result = subprocess.run(
        [mvn, "-q", "-B", "--no-transfer-progress", "package", "dependency:build-classpath",
         f"-Dmdep.outputFile={listing}"],
        cwd=source, capture_output=True, text=True, check=False,
    )
    if result.returncode != 0:
        raise Neo4jServerError(
            f"building the Neo4j launcher failed:\n{(result.stdout + result.stderr)[-3000:]}"
        )
    target.mkdir(parents=True, exist_ok=True)
    jar = target / "launcher.jar"
    shutil.copyfile(next((source / "target").glob("neo4j-launcher-*.jar")), jar)
    classpath = [jar, *(Path(p) for p in listing.read_text().strip().split(os.pathsep))]
    # Written last and renamed into place: its presence means the build is whole.
    partial = target / "classpath.txt.partial"
    partial.write_text(os.pathsep.join(map(str, classpath)))
    partial.replace(target / "classpath.txt")
    log.info("built the Neo4j launcher in %.1f s", time.monotonic() - started)
    return classpath


class Neo4jServer:
    """A Neo4j server child process on loopback, user `neo4j` with the given password."""

    def __init__(self, port: int, data_dir: Path, password: str) -> None:
        if len(password) < 8:
            raise ValueError("Neo4j wants passwords of at least 8 characters")
        self.port = port
        self.data_dir = data_dir
        self.password = password
        self.user = USER
        self._process: asyncio.subprocess.Process | None = None

    @property
    def uri(self) -> str:
        return f"bolt://127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "launcher.log"

    def command(self, classpath: list[Path]) -> list[str]:
        java = shutil.which("java")
        if java is None:
            raise Neo4jServerError("Java 17 (`java`) is needed to run Neo4j")
        return [java, *JVM_OPTIONS, "-cp", os.pathsep.join(map(str, classpath)), MAIN_CLASS,
                str(self.port), str(self.data_dir)]

    async def start(self, wait_s: float = 120.0) -> None:
        if listening(self.port):
            raise Neo4jServerError(f"port {self.port} is taken: is a Neo4j already running?")
        classpath = await asyncio.to_thread(build_launcher)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("wb") as output:
            # stdin stays open: the launcher stops when it closes, even if we die.
            self._process = await asyncio.create_subprocess_exec(
                *self.command(classpath), stdin=asyncio.subprocess.PIPE, stdout=output,
                stderr=asyncio.subprocess.STDOUT,
                env={**os.environ, "NEO4J_PASSWORD": self.password},
            )
        try:
            async with asyncio.timeout(wait_s):
                await self._wait_ready()
        except TimeoutError:
            await self.stop()
            raise Neo4jServerError(
                f"Neo4j did not start within {wait_s:.0f} s; see {self.log_file} and "
                f"{self.data_dir / 'logs' / 'debug.log'}"
            ) from None
        except BaseException:
            await self.stop()
            raise

    async def _wait_ready(self) -> None:
        assert self._process is not None
        while READY not in self.log_file.read_text(errors="replace"):
            if self._process.returncode is not None:
                tail = self.log_file.read_text(errors="replace")[-3000:]
                raise Neo4jServerError(f"Neo4j exited with {self._process.returncode}:\n{tail}")
            await asyncio.sleep(0.1)
        async with AsyncGraphDatabase.driver(self.uri, auth=(self.user, self.password)) as d:
            await d.verify_connectivity()

    async def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), timeout=30)
        except TimeoutError:
            process.kill()
            await process.wait()

    async def __aenter__(self) -> Neo4jServer:
        await self.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, err: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


def dev_password(data_dir: Path) -> str:
    """The password of the development server on `data_dir`: made on its first start
    and kept beside its data (owner-only), so that a restart on the same data keeps
    it, and the orchestrators configured with it keep working."""
    kept = data_dir / "password"
    if kept.exists():
        return kept.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(16)
    fd = os.open(kept, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(password + "\n")
    return password


async def _serve(args: argparse.Namespace) -> None:
    data_dir = args.data_dir.resolve()
    password = dev_password(data_dir)
    async with Neo4jServer(args.port, data_dir, password) as server:
        print(f"Neo4j on {server.uri}, data in {server.data_dir}. Ctrl-C stops it. Use it with:\n"
              f"  export ORCHESTRATOR_GRAPH_BACKEND=neo4j ORCHESTRATOR_NEO4J_URI={server.uri} "
              f"ORCHESTRATOR_NEO4J_PASSWORD={password}")
        await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description="Run Neo4j 5.26 for development.")
    parser.add_argument("--port", type=int, default=7687)
    parser.add_argument("--data-dir", type=Path, default=Path(".orchestrator/neo4j"))
    logging.basicConfig(level=logging.INFO)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(parser.parse_args()))


if __name__ == "__main__":
    main()
