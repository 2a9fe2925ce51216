"""Developer tasks: ``nox -s tests lint typecheck docs``."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint", "typecheck", "docs"]
nox.options.reuse_existing_virtualenvs = True


@nox.session
def tests(session: nox.Session) -> None:
    """The whole test suite, real Dovecot/aiosmtpd peers and emulators included."""
    session.install("-e", ".[dev]")
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff."""
    session.install("ruff")
    session.run("ruff", "check", "inboxlink", "tests", "benchmarks", "noxfile.py")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the package."""
    session.install("-e", ".[dev]")
    session.run("python", "-m", "mypy", "--strict", "inboxlink")


@nox.session
def docs(session: nox.Session) -> None:
    """The documentation site, built strictly (warnings are errors)."""
    session.install("-e", ".[dev]")
    session.run("python", "-m", "mkdocs", "build", "--strict", "-d", "site")
