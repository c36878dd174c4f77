"""``python -m symtransfer`` is the ``symtransfer`` command."""
from .cli import main

raise SystemExit(main())
