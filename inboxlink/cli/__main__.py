"""``python -m inboxlink.cli`` runs the command line (same as the ``inboxlink`` script)."""

import sys

from inboxlink.cli import main

sys.exit(main())
