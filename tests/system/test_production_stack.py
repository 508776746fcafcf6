"""The production stack as the Procfile runs it: release step, gunicorn workers, WhiteNoise.

One test starts the real thing on a loopback port (DEBUG off, two gunicorn workers, the
project's deploy/gunicorn.conf.py) and requests a page and a static file from it, so a broken
Procfile, gunicorn config or static files setup fails here rather than on the first deploy.
"""

import re
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.support import production_env

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def procfile() -> dict[str, list[str]]:
    """The Procfile's process types and their command lines."""
    lines = (ROOT / "Procfile").read_text().splitlines()
    return {
        name: shlex.split(command)
        for name, command in (line.split(":", 1) for line in lines if line.strip())
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read()
        try:
            requests.get(url, timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {seconds}s")


def test_procfile_declares_gunicorn_with_the_project_config_and_a_migrate_release():
    """The Procfile's web process is gunicorn with deploy/gunicorn.conf.py; its release step
    applies migrations before the new version takes traffic."""
    processes = procfile()
    assert processes["web"][:2] == ["gunicorn", "config.wsgi"]
    assert processes["web"][2:] == ["-c", "deploy/gunicorn.conf.py"]
    assert processes["release"] == ["python", "manage.py", "migrate", "--noinput"]


def test_production_stack_serves_pages_and_static_files_from_two_workers(tmp_path):
    """With DEBUG off, the release step and collectstatic run, gunicorn starts two workers
    from the Procfile's command, and the catalog page and its hashed stylesheet are served
    (WhiteNoise: long-lived cache headers on the hashed file)."""
    port = free_port()
    env = production_env(
        tmp_path,
        ALLOWED_HOSTS="127.0.0.1",
        SECURE_SSL_REDIRECT="false",
        HOST="127.0.0.1",
        PORT=str(port),
        WEB_CONCURRENCY="2",
    )
    release = procfile()["release"]
    for command in (release, ["python", "manage.py", "collectstatic", "--noinput", "-v0"]):
        done = subprocess.run(  # noqa: S603 - the Procfile's own command
            [sys.executable, *command[1:]],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr

    web = procfile()["web"]
    server = subprocess.Popen(  # noqa: S603 - the Procfile's own command
        [str(BIN / web[0]), *web[1:]],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(base + "/", server)
        page = requests.get(base + "/", timeout=10)
        assert page.status_code == 200
        stylesheet = re.search(r'href="(/static/[^"]+\.[0-9a-f]{12}\.css)"', page.text)
        assert stylesheet, "no hashed stylesheet link: collectstatic's manifest is not in use"
        css = requests.get(base + stylesheet.group(1), timeout=10)
        assert css.status_code == 200
        assert "max-age=315360000" in css.headers["Cache-Control"]
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]
    assert output.count("Booting worker") == 2, output
