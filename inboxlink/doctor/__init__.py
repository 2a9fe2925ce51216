"""``inboxlink doctor``: can this mailbox be connected, and if not, what exactly to fix.

>>> from inboxlink.doctor import DoctorOptions, diagnose
>>> report = diagnose("fake://alice@example.com", DoctorOptions(), connect=inboxlink.connect)
>>> report.connectable
True

The network checks (DNS, TCP, TLS, IMAP greeting and capabilities, SMTP) use the standard
library only; login, folders and the optional test message go through ``connect()``, so they
work with every adapter. Microsoft 365, Gmail and Exchange get checks of their own (granted
scopes, mailbox and REST API, primary alias; API enablement, app access; EWS URL, server
version, primary SMTP address) from `inboxlink.doctor.providers`.
"""

from inboxlink.doctor.checks import diagnose
from inboxlink.doctor.options import DoctorOptions
from inboxlink.doctor.report import Check, Report, Status

__all__ = ["Check", "DoctorOptions", "Report", "Status", "diagnose"]
