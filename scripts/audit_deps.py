"""Dependency audit for `make check`: pip-audit / npm audit, with an explicit fallback for this network.

The project's machines reach nothing outside but the package registries, and those only for plain
downloads (GET). That breaks both audit services in a known way:

- pip-audit's default service reads PyPI's per-release JSON (``/pypi/NAME/VERSION/json``), which answers
  404 here for every release, so pip-audit reports each package as "not found on PyPI" and, without
  ``--strict``, says "No known vulnerabilities found" having audited nothing.
- ``npm audit`` POSTs to the npm registry's advisory endpoint, which answers 405 here.

So ``pypi`` first asks whether pip-audit's service answers (one GET for pip-audit's own release). If it
does, pip-audit runs with ``--strict`` on each requirements file and decides. If it answers 404, the same
PyPI vulnerability data is read from the project JSON (``/pypi/NAME/json``), which
PyPI documents as describing the latest release: a pinned release that is the latest is audited exactly,
and any other is listed by name as not audited. ``npm`` runs ``npm audit``; the endpoint's 405 is reported
as "not audited" with the package count, and every other failure (findings, an unreachable registry, a
timeout) fails. Network errors never pass silently; ``--strict`` also fails on anything not audited.
"""

from __future__ import annotations

import argparse
import json
import subprocess  # nosec B404  # runs pip, pip-audit and npm with fixed arguments
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import requests
from packaging.version import InvalidVersion, Version
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

PYPI = "https://pypi.org/pypi"
TIMEOUT = 30
ROOT = Path(__file__).resolve().parent.parent


class AuditUnavailable(Exception):
    """The audit service could not be asked (network error or an unexpected answer)."""


@dataclass(frozen=True)
class Finding:
    """One known vulnerability in one pinned release."""

    name: str
    version: str
    vuln_id: str
    aliases: tuple[str, ...]
    fixed_in: tuple[str, ...]


@dataclass
class PypiReport:
    """What the fallback audit saw."""

    audited: list[str] = field(default_factory=list)
    not_audited: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


def _get(session: requests.Session, url: str) -> requests.Response:
    """GET ``url``; a network error becomes :class:`AuditUnavailable`."""
    try:
        return session.get(url, timeout=TIMEOUT)
    except requests.RequestException as err:
        raise AuditUnavailable(f"GET {url}: {err}") from err


def resolve(requirements: Path) -> dict[str, str]:
    """The full set of releases pip would install for ``requirements`` (name → version), via pip's report."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet"]
        cmd += ["--report", str(report), "-r", str(requirements)]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)  # noqa: S603 - fixed argv  # nosec B603
        if done.returncode != 0:
            raise AuditUnavailable(f"pip could not resolve {requirements}:\n{done.stderr.strip()}")
        data: dict[str, Any] = json.loads(report.read_text(encoding="utf-8"))
    return {item["metadata"]["name"].lower(): item["metadata"]["version"] for item in data["install"]}


def _vulns(payload: dict[str, Any], name: str, version: str, ignored: set[str]) -> list[Finding]:
    """The live (not withdrawn, not ignored) vulnerabilities in a PyPI JSON answer."""
    out = []
    for vuln in payload.get("vulnerabilities") or []:
        ids = {vuln["id"], *(vuln.get("aliases") or [])}
        if vuln.get("withdrawn") or ids & ignored:
            continue
        out.append(
            Finding(name, version, vuln["id"], tuple(vuln.get("aliases") or ()), tuple(vuln.get("fixed_in") or ()))
        )
    return out


def audit_latest(session: requests.Session, name: str, version: str, ignored: set[str]) -> list[Finding] | None:
    """Known vulnerabilities of ``name==version`` when it is the latest release, else None (cannot tell here)."""
    # The project endpoint describes the latest release only (PyPI JSON API reference).
    answer = _get(session, f"{PYPI}/{name}/json")
    if answer.status_code != 200:
        raise AuditUnavailable(f"{answer.url} answered HTTP {answer.status_code}")
    payload: dict[str, Any] = answer.json()
    if not _same_version(payload["info"]["version"], version):
        return None
    return _vulns(payload, name, version, ignored)


def _same_version(left: str, right: str) -> bool:
    """Whether two version strings name the same release (``1.0`` is ``1.0.0``)."""
    try:
        return Version(left) == Version(right)
    except InvalidVersion:
        return left == right


def _session() -> requests.Session:
    """An HTTP session that retries a dropped connection or a 5xx twice before giving up."""
    session = requests.Session()
    retry = Retry(total=2, backoff_factor=1, status_forcelist=(500, 502, 503, 504), allowed_methods=("GET",))
    session.mount("https://", HTTPAdapter(max_retries=retry))
    return session


def pip_audit_reachable(session: requests.Session) -> bool:
    """Whether pip-audit's PyPI service answers here (asked about pip-audit's own installed release)."""
    version = metadata.version("pip-audit")
    answer = _get(session, f"{PYPI}/pip-audit/{version}/json")
    if answer.status_code == 200:
        return True
    if answer.status_code == 404:
        return False
    raise AuditUnavailable(f"{answer.url} answered HTTP {answer.status_code}")


def audit_pypi(files: list[Path], ignored: set[str], strict: bool) -> int:
    """Audit every release each requirements file resolves to; 0 when no known vulnerability is found.

    :param strict: also fail when some release could not be audited here.
    """
    session = _session()
    if pip_audit_reachable(session):
        status = 0
        for path in files:
            cmd = [sys.executable, "-m", "pip_audit", "--strict", "--progress-spinner", "off", "-r", str(path)]
            cmd += [arg for vuln in sorted(ignored) for arg in ("--ignore-vuln", vuln)]
            print(f"pip-audit {path}", flush=True)
            status |= subprocess.run(cmd, check=False).returncode  # noqa: S603 - fixed argv  # nosec B603
        return status

    print(
        "pip-audit's service (PyPI per-release JSON) answers 404 on this network: reading the same PyPI "
        "vulnerability data from the project endpoint, which covers only releases that are the latest.",
        flush=True,
    )
    # Resolving is mostly waiting on the index, so the files resolve side by side, and the lookups likewise.
    with ThreadPoolExecutor(max_workers=8) as pool:
        pins = sorted({(name, version) for found in pool.map(resolve, files) for name, version in found.items()})
        answers = list(pool.map(lambda pin: audit_latest(session, pin[0], pin[1], ignored), pins))
    report = PypiReport()
    for (name, version), found in zip(pins, answers, strict=True):
        pin = f"{name}=={version}"
        if found is None:
            report.not_audited.append(pin)
        else:
            report.audited.append(pin)
            report.findings.extend(found)

    for item in report.findings:
        fix = ", ".join(item.fixed_in) or "no fix"
        aliases = f" ({', '.join(item.aliases)})" if item.aliases else ""
        print(f"VULNERABLE {item.name}=={item.version}: {item.vuln_id}{aliases}; fixed in: {fix}")
    print(f"PyPI releases: {len(pins)}; audited: {len(report.audited)}; findings: {len(report.findings)}")
    if report.not_audited:
        print(
            f"NOT AUDITED ({len(report.not_audited)}, not the latest release, so PyPI's data here does not "
            f"describe them): {' '.join(report.not_audited)}"
        )
    return 1 if report.findings or (strict and report.not_audited) else 0


def audit_npm(omit_dev: bool, strict: bool) -> int:
    """Run ``npm audit``; the advisory endpoint's refusal here is reported, anything else decides."""
    cmd = ["npm", "audit", "--audit-level=low"] + (["--omit=dev"] if omit_dev else [])
    print(" ".join(cmd), flush=True)
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)  # noqa: S603 - fixed argv  # nosec B603
    output = done.stdout + done.stderr
    print(output.strip())
    if done.returncode == 0:
        return 0
    if "audit endpoint returned an error" in output and "405 Method Not Allowed" in output:
        lock = json.loads((ROOT / "package-lock.json").read_text(encoding="utf-8"))
        packages = [key for key, meta in lock.get("packages", {}).items() if key and not (omit_dev and meta.get("dev"))]
        print(
            f"NOT AUDITED ({len(packages)} npm packages): the npm registry's advisory endpoint "
            "refuses requests from this network (HTTP 405)."
        )
        return 1 if strict else 0
    return done.returncode


def main(argv: list[str] | None = None) -> int:
    """Command line: ``[--strict] pypi [--ignore-vuln ID]... FILE...`` or ``[--strict] npm [--omit-dev]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--strict", action="store_true", help="fail when anything could not be audited")
    sub = parser.add_subparsers(dest="ecosystem", required=True)
    pypi = sub.add_parser("pypi", help="audit the releases that requirements files resolve to")
    pypi.add_argument("files", nargs="+", type=Path)
    pypi.add_argument("--ignore-vuln", action="append", default=[], metavar="ID")
    npm = sub.add_parser("npm", help="npm audit over package-lock.json")
    npm.add_argument("--omit-dev", action="store_true")
    args = parser.parse_args(argv)
    try:
        if args.ecosystem == "pypi":
            return audit_pypi(args.files, set(args.ignore_vuln), args.strict)
        return audit_npm(args.omit_dev, args.strict)
    except AuditUnavailable as err:
        print(f"AUDIT FAILED: the vulnerability service could not be asked: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
