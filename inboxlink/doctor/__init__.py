"""``inboxlink doctor``: can this mailbox be connected, and if not, what exactly to fix.

>>> from inboxlink.doctor import DoctorOptions, diagnose
>>> report = diagnose("fake://alice@example.com", DoctorOptions(), connect=inboxlink.connect)
>>> report.connectable
True

The network checks (DNS, TCP, TLS, IMAP greeting and capabilities, SMTP) use the standard
library only; login, folders and the optional test message go through ``connect()``, so they
work with every adapter.
"""

from inboxlink.doctor.checks import DoctorOptions, diagnose
from inboxlink.doctor.report import Check, Report, Status

__all__ = ["Check", "DoctorOptions", "Report", "Status", "diagnose"]
