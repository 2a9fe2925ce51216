"""Developer tasks: ``nox -s tests lint typecheck docs`` (and ``no_extras``)."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "no_extras", "lint", "typecheck", "docs"]
nox.options.reuse_existing_virtualenvs = True

#: every Python version inboxlink supports (requires-python >= 3.10); nox skips the ones
#: this machine does not have unless run with --error-on-missing-interpreters
PYTHONS = ["3.10", "3.11", "3.12"]


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The whole test suite, real Dovecot/aiosmtpd peers and emulators included."""
    session.install("-e", ".[dev]")
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session
def no_extras(session: nox.Session) -> None:
    """The base install alone (no extras, no pytest): ``import inboxlink`` loads no optional
    library, the fake works, and each adapter's URL names the extra to install."""
    session.install(".")
    session.run("python", "tests/no_extras/check_base_install.py")


@nox.session
def lint(session: nox.Session) -> None:
    """ruff."""
    session.install("ruff")
    session.run("ruff", "check", "inboxlink", "tests", "benchmarks", "noxfile.py")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the package and on the typed usage module (tests/typing)."""
    session.install("-e", ".[dev]")
    session.run("python", "-m", "mypy", "--strict", "inboxlink", "tests/typing")


@nox.session
def docs(session: nox.Session) -> None:
    """The documentation site, built strictly (warnings are errors)."""
    session.install("-e", ".[dev]")
    session.run("python", "-m", "mkdocs", "build", "--strict", "-d", "site")


@nox.session
def docs_screenshots(session: nox.Session) -> None:
    """The site in headless Chromium at 1280 px: no clipped table or code block, and
    screenshots of the key pages in site-screenshots/ (not committed)."""
    session.install("-e", ".[dev]")
    session.env["INBOXLINK_SCREENSHOTS"] = "site-screenshots"
    session.run("python", "-m", "pytest", "-q", "-m", "slow", "tests/cli/test_site_layout.py")
