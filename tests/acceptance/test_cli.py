"""The command-line tools as a user runs them: help, serve, tasks, and bad input."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from oar.engine import TaskStatus
from oar.service import Service
from tests.acceptance.conftest import PLUGIN, OarProcess, wait_for
from tests.conftest import fast_environment

BIN = Path(sys.executable).parent
Spawn = Callable[..., OarProcess]
# Command-line behaviour that does not depend on the database: one backend is enough.
SQLITE_ONLY = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def run(*argv: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / argv[0]), *argv[1:]],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_every_command_has_help(subprocess_env: dict[str, str]) -> None:
    for program in ("oar", "oarctl", "jobctl"):
        result = run(program, "--help", env=subprocess_env)
        assert result.returncode == 0, result.stderr
        assert "Usage:" in result.stdout
    assert "tasks" in run("oarctl", "--help", env=subprocess_env).stdout


async def test_serve_answers_http_and_stops_cleanly_on_sigterm(
    spawn: Spawn, subprocess_env: dict[str, str]
) -> None:
    port = free_port()
    server = spawn("serve", "--port", str(port), "--plugin", PLUGIN, name="serve")

    async def healthy() -> bool:
        try:
            async with httpx.AsyncClient() as http:
                return (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200
        except httpx.TransportError:
            return False

    await wait_for(healthy, timeout=60, what="the server to be ready")
    assert server.terminate(timeout=60) == 0, server.output()
    assert "service.stopped" in server.output()


async def test_tasks_commands_show_state_and_refuse_bad_input(
    client: Service, spawn: Spawn, subprocess_env: dict[str, str], tmp_path: Path
) -> None:
    assert json.loads(run("oarctl", "tasks", "list", "--json", env=subprocess_env).stdout) == []

    worker = spawn("worker", "--plugin", PLUGIN)
    task_id = await client.tasks.enqueue(
        "acceptance.sleep", {"journal": str(tmp_path / "j"), "seconds": 0}
    )
    info = await client.tasks.wait(task_id, timeout=60)
    assert info.status is TaskStatus.SUCCEEDED, worker.output()

    listed = run("oarctl", "tasks", "list", env=subprocess_env)
    assert task_id in listed.stdout
    assert "succeeded" in listed.stdout
    shown = json.loads(run("oarctl", "tasks", "show", task_id, "--json", env=subprocess_env).stdout)
    assert shown["status"] == "succeeded"
    assert shown["attempt_log"][0]["status"] == "succeeded"

    missing = run("oarctl", "tasks", "show", "task-nope", env=subprocess_env)
    assert missing.returncode == 1
    assert missing.stderr.strip() == "error: no task with ID 'task-nope'"
    not_retryable = run("oarctl", "tasks", "retry", task_id, env=subprocess_env)
    assert not_retryable.returncode == 1
    assert "retry needs a task that is dead or failed or cancelled" in not_retryable.stderr
    bad_status = run("oarctl", "tasks", "list", "--status", "exploded", env=subprocess_env)
    assert bad_status.returncode == 2
    assert "'exploded' is not one of" in bad_status.stderr


async def test_enqueue_from_the_cli_and_wait_for_the_result(
    spawn: Spawn, subprocess_env: dict[str, str], tmp_path: Path
) -> None:
    spawn("worker", "--plugin", PLUGIN)
    payload = json.dumps({"journal": str(tmp_path / "j"), "seconds": 0})
    result = run(
        "oarctl",
        "tasks",
        "enqueue",
        "acceptance.sleep",
        "--plugin",
        PLUGIN,
        "--payload",
        payload,
        "--key",
        "cli-1",
        "--wait",
        "60",
        "--json",
        env=subprocess_env,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["status"] == "succeeded"
    bad = run(
        "oarctl", "tasks", "enqueue", "acceptance.sleep", "--payload", "{x", env=subprocess_env
    )
    assert bad.returncode == 2
    assert "--payload is not valid JSON" in bad.stderr
    unknown = run("oarctl", "tasks", "enqueue", "nope", env=subprocess_env)
    assert unknown.returncode == 1
    assert "unknown task 'nope'" in unknown.stderr


def test_internal_tasks_cannot_be_enqueued_from_the_cli(subprocess_env: dict[str, str]) -> None:
    """The Slack bot runs oarctl for anyone: ``github.call`` must not run what it names."""
    refused = run(
        "oarctl",
        "tasks",
        "enqueue",
        "github.call",
        "--payload",
        json.dumps({"function": "platform:node"}),
        env=subprocess_env,
    )
    assert refused.returncode == 1, refused.stdout
    assert refused.stderr.startswith("error: task 'github.call' is internal"), refused.stderr
    listed = run("oarctl", "tasks", "list", "--name", "github.call", "--json", env=subprocess_env)
    assert json.loads(listed.stdout) == []


def test_an_unreachable_database_is_named_with_its_password_masked(
    subprocess_env: dict[str, str],
) -> None:
    env = {
        **subprocess_env,
        "OAR_DATABASE_URL": f"postgresql://oar:hunter2@127.0.0.1:{free_port()}/oar",
    }
    started = time.monotonic()
    result = run("oarctl", "tasks", "list", env=env)
    assert result.returncode == 1
    assert "cannot reach the database at postgresql://oar:***@127.0.0.1:" in result.stderr
    assert "hunter2" not in result.stderr + result.stdout
    assert time.monotonic() - started < 30


def test_invalid_settings_stop_start_up_naming_the_variables(
    subprocess_env: dict[str, str],
) -> None:
    result = run(
        "oarctl", "serve", env={**subprocess_env, "OAR_PORT": "eighty", "OAR_LOG_FORMAT": "xml"}
    )
    assert result.returncode == 2
    assert "OAR_PORT" in result.stderr
    assert "OAR_LOG_FORMAT" in result.stderr


def test_serve_refuses_to_expose_an_unauthenticated_api(subprocess_env: dict[str, str]) -> None:
    result = run("oarctl", "serve", env={**subprocess_env, "OAR_HOST": "0.0.0.0"})
    assert result.returncode == 2
    assert "refusing to listen on 0.0.0.0 without OAR_API_TOKEN" in result.stderr


def test_serve_refuses_an_empty_or_short_api_token(subprocess_env: dict[str, str]) -> None:
    """Issue 13 item 3: OAR_API_TOKEN= turned authentication off (and allowed 0.0.0.0)."""
    for token, problem in (
        ("", "OAR_API_TOKEN: is empty, which would turn authentication off"),
        ("hunter2hunter2", "OAR_API_TOKEN: is 14 characters; use at least 16"),
    ):
        result = run(
            "oarctl", "serve", env={**subprocess_env, "OAR_API_TOKEN": token, "OAR_HOST": "0.0.0.0"}
        )
        assert result.returncode == 2
        assert problem in result.stderr
        if token:
            assert token not in result.stderr + result.stdout


def test_a_plugin_that_cannot_be_imported_is_named(subprocess_env: dict[str, str]) -> None:
    result = run("oarctl", "worker", "--plugin", "no_such_module_xyz", env=subprocess_env)
    assert result.returncode == 2
    assert "cannot load plugin module 'no_such_module_xyz'" in result.stderr


_ENQUEUE = """
import asyncio, sys, time
import tests.acceptance.plugin_tasks
from oar.service import Service
from oar.settings import load_settings

async def main(start_at):
    async with Service(load_settings(), roles=()) as service:
        while time.time() < start_at:
            await asyncio.sleep(0.001)
        payload = {"journal": "/dev/null"}
        print(await service.tasks.enqueue("acceptance.record", payload, key="same-key"))

asyncio.run(main(float(sys.argv[1])))
"""


async def test_two_processes_enqueueing_one_key_at_the_same_instant_make_one_task(
    client: Service, subprocess_env: dict[str, str]
) -> None:
    start_at = time.time() + 3

    async def enqueue() -> str:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _ENQUEUE,
            str(start_at),
            env=subprocess_env,
            cwd=str(Path(__file__).parents[2]),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
        assert proc.returncode == 0, err.decode()
        return out.decode().strip()

    assert await asyncio.gather(enqueue(), enqueue()) == ["same-key", "same-key"]
    assert [t.id for t in await client.tasks.list()] == ["same-key"]
    queued = await client.engine.client.list_workflows_async()
    assert [w.workflow_id for w in queued] == ["same-key"]


def test_settings_for_subprocesses_match_the_fixture(
    subprocess_env: dict[str, str], tmp_path: Path
) -> None:
    expected = fast_environment(subprocess_env["OAR_DATABASE_URL"], tmp_path / "data")
    assert {k: subprocess_env[k] for k in expected if k != "OAR_LOG_LEVEL"} == {
        k: v for k, v in expected.items() if k != "OAR_LOG_LEVEL"
    }


def test_approvals_from_the_command_line(subprocess_env: dict[str, str]) -> None:
    requested = run(
        "oarctl",
        "approvals",
        "request",
        "--run-id",
        "r-1",
        "--type",
        "release_approval",
        "--context",
        '{"release": "4.19.3"}',
        "--timeout",
        "600",
        env=subprocess_env,
    )
    assert requested.returncode == 0, requested.stderr
    approval_id = requested.stdout.strip()

    listed = run("oarctl", "approvals", "list", "--status", "pending", env=subprocess_env)
    assert approval_id in listed.stdout
    approved = run(
        "oarctl", "approvals", "approve", approval_id, "--feedback", "ok", env=subprocess_env
    )
    assert approved.returncode == 0, approved.stderr
    assert f"approval {approval_id} approved" in approved.stdout
    again = run("oarctl", "approvals", "reject", approval_id, env=subprocess_env)
    assert again.returncode == 1
    assert "was not rejected: it is resolved (approved by" in again.stderr
    shown = json.loads(
        run("oarctl", "approvals", "show", approval_id, "--json", env=subprocess_env).stdout
    )
    assert shown["resolved_via"] == "cli"
    waited = run("oarctl", "approvals", "wait", approval_id, env=subprocess_env)
    assert waited.returncode == 0
    assert "approved" in waited.stdout

    second = run(
        "oarctl", "approvals", "request", "--run-id", "r-1", "--type", "t", env=subprocess_env
    )
    other_id = second.stdout.strip()
    pending = run("oarctl", "approvals", "wait", other_id, "--timeout", "0.5", env=subprocess_env)
    assert pending.returncode == 4
    assert "is still pending" in pending.stderr
    assert run("oarctl", "approvals", "cancel", other_id, env=subprocess_env).returncode == 0
    assert run("oarctl", "approvals", "wait", other_id, env=subprocess_env).returncode == 3

    bad = run(
        "oarctl",
        "approvals",
        "request",
        "--run-id",
        "r",
        "--type",
        "t",
        "--context",
        "{",
        env=subprocess_env,
    )
    assert bad.returncode == 2
    assert "--context is not valid JSON" in bad.stderr
    assert run("oarctl", "approvals", "show", "nope", env=subprocess_env).returncode == 1


@SQLITE_ONLY
def test_oar_plugins_in_its_documented_comma_separated_form_loads_every_module(
    subprocess_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**subprocess_env, "OAR_PLUGINS": f"{PLUGIN},json"}
    payload = json.dumps({"journal": str(tmp_path / "j"), "seconds": 0})
    result = run("oarctl", "tasks", "enqueue", "acceptance.sleep", "--payload", payload, env=env)
    assert result.returncode == 0, result.stderr
    assert "pending" in result.stdout  # the handler was registered from OAR_PLUGINS
    assert "Traceback" not in result.stderr


def _data_dir(case: str, tmp_path: Path) -> str:
    a_file = tmp_path / "a-file"
    a_file.write_text("not a directory")
    read_only = tmp_path / "read-only"
    read_only.mkdir()
    read_only.chmod(0o555)
    return {
        "empty": "",
        "a file": str(a_file),
        "under a file": str(a_file / "data"),
        # root writes through file modes; /proc refuses everyone a new file
        "read-only": str(read_only) if os.geteuid() else "/proc",
    }[case]


@SQLITE_ONLY
@pytest.mark.parametrize(
    ("case", "argv"),
    [
        ("empty", ("tasks", "list")),
        ("a file", ("worker",)),
        ("under a file", ("tasks", "list")),
        ("read-only", ("serve", "--port", "0")),
    ],
)
def test_data_directory_problems_are_one_line_naming_oar_data_dir(
    case: str, argv: tuple[str, ...], subprocess_env: dict[str, str], tmp_path: Path
) -> None:
    env = {k: v for k, v in subprocess_env.items() if k != "OAR_DATABASE_URL"}
    env["OAR_DATA_DIR"] = _data_dir(case, tmp_path)
    result = run("oarctl", *argv, env=env)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    if case == "empty":  # a settings error: the variable on its own line, as for every one
        assert lines == [
            "error: invalid configuration:",
            "  OAR_DATA_DIR: is empty: name a directory, or unset it for the default"
            " ($XDG_DATA_HOME/oar, ~/.local/share/oar)",
        ]
    else:
        (line,) = lines
        assert line.startswith(f"error: OAR_DATA_DIR: {env['OAR_DATA_DIR']} is not a usable"), line
    assert "serving on" not in result.stdout
    assert not (tmp_path / "oar.db").exists()  # never the current directory


@SQLITE_ONLY
def test_serve_on_a_port_in_use_says_so_before_starting_anything(
    subprocess_env: dict[str, str],
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run("oarctl", "serve", "--port", str(port), env=subprocess_env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip() == (
        f"error: port {port} on 127.0.0.1 is in use: choose another with --port or OAR_PORT"
    )
    assert "serving on" not in result.stdout
    assert "executor.claimed" not in result.stderr  # the engine was never started


@SQLITE_ONLY
def test_sandbox_on_a_busy_base_port_suggests_any_free_ports(
    subprocess_env: dict[str, str],
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run("oarctl", "sandbox", "--base-port", str(port), env=subprocess_env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"port {port} (the github stand-in" in result.stderr
    assert "--base-port 0" in result.stderr
    assert "Traceback" not in result.stderr


@SQLITE_ONLY
async def test_enqueue_and_wait_exits_non_zero_unless_the_task_succeeded(
    spawn: Spawn, subprocess_env: dict[str, str], tmp_path: Path
) -> None:
    def enqueue(name: str, payload: object, wait: str) -> subprocess.CompletedProcess[str]:
        return run(
            "oarctl",
            "tasks",
            "enqueue",
            name,
            "--plugin",
            PLUGIN,
            "--payload",
            json.dumps(payload),
            "--wait",
            wait,
            env=subprocess_env,
        )

    # No worker yet: the task cannot finish within the wait.
    pending = enqueue("acceptance.sleep", {"journal": str(tmp_path / "j"), "seconds": 0}, "0.5")
    assert pending.returncode == 4, pending.stderr
    assert "is still pending after 0.5s" in pending.stderr

    spawn("worker", "--plugin", PLUGIN)
    dead = enqueue("acceptance.fail", None, "60")
    assert dead.returncode == 1, dead.stdout + dead.stderr
    assert "ended dead: RuntimeError: the acceptance task failed on purpose" in dead.stderr
