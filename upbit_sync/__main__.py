"""``python -m upbit_sync`` runs the ``upbit-sync`` command."""

from .cli import main

raise SystemExit(main())
