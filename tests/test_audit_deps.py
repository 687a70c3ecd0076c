"""scripts/audit_deps.py: what counts as audited, clean, vulnerable or unreachable (PyPI answers served on loopback)."""

from __future__ import annotations

import importlib.util
import json
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent

# name -> (latest version, vulnerabilities of the latest); "broken" answers 503, anything else 404.
PROJECTS = {
    "clean": ("2.0.0", []),
    "vulnerable": (
        "1.4",
        [
            {"id": "PYSEC-1", "aliases": ["CVE-1"], "fixed_in": [], "withdrawn": None},
            {"id": "GHSA-gone", "aliases": [], "fixed_in": ["1.5"], "withdrawn": "2026-01-01T00:00:00Z"},
        ],
    ),
}


class _FakePypi(BaseHTTPRequestHandler):
    """PyPI as this network shows it: per-release JSON is 404, the project JSON describes the latest."""

    def do_GET(self) -> None:  # noqa: N802 - the http.server hook name
        parts = self.path.strip("/").split("/")
        if parts[0] == "broken":
            self.send_error(503)
            return
        if len(parts) != 2 or parts[0] not in PROJECTS:
            self.send_error(404)
            return
        latest, vulns = PROJECTS[parts[0]]
        body = json.dumps({"info": {"version": latest}, "vulnerabilities": vulns}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - signature of the base class
        """Keep the test output quiet."""


@pytest.fixture(scope="module")
def audit_deps() -> Iterator[ModuleType]:
    """The script, imported from its path (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location("audit_deps", ROOT / "scripts" / "audit_deps.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[spec.name]


@pytest.fixture
def fake_pypi(audit_deps: ModuleType, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Serve PyPI's JSON API on loopback and point the script at it."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakePypi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setattr(audit_deps, "PYPI", url)
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_latest_release_is_audited_and_clean(audit_deps: ModuleType, fake_pypi: str) -> None:
    with requests.Session() as session:
        assert audit_deps.audit_latest(session, "clean", "2.0", set()) == []


def test_latest_release_with_a_live_vulnerability_is_a_finding(audit_deps: ModuleType, fake_pypi: str) -> None:
    with requests.Session() as session:
        found = audit_deps.audit_latest(session, "vulnerable", "1.4", set())
    assert [f.vuln_id for f in found] == ["PYSEC-1"]  # the withdrawn one is not a finding
    assert found[0].aliases == ("CVE-1",)


def test_a_finding_is_waived_by_id_or_alias_only(audit_deps: ModuleType, fake_pypi: str) -> None:
    with requests.Session() as session:
        assert audit_deps.audit_latest(session, "vulnerable", "1.4", {"CVE-1"}) == []
        assert len(audit_deps.audit_latest(session, "vulnerable", "1.4", {"CVE-2"})) == 1


def test_older_release_is_not_audited_rather_than_clean(audit_deps: ModuleType, fake_pypi: str) -> None:
    with requests.Session() as session:
        assert audit_deps.audit_latest(session, "vulnerable", "1.3", set()) is None


@pytest.mark.parametrize("name", ["broken", "missing"])
def test_service_failure_is_an_error_not_a_pass(audit_deps: ModuleType, fake_pypi: str, name: str) -> None:
    with requests.Session() as session, pytest.raises(audit_deps.AuditUnavailable, match="answered HTTP"):
        audit_deps.audit_latest(session, name, "1.0", set())


def _closed_port() -> int:
    """A loopback port with nothing listening on it (bound once, then released)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakePypi)
    port = int(server.server_address[1])
    server.server_close()
    return port


def test_unreachable_host_is_an_error(audit_deps: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit_deps, "PYPI", f"http://127.0.0.1:{_closed_port()}")
    with requests.Session() as session, pytest.raises(audit_deps.AuditUnavailable, match="GET "):
        audit_deps.audit_latest(session, "clean", "2.0", set())
