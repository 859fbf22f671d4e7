"""``python -m verification`` is the same as the ``lrbnn`` console script."""

from verification.cli import main

raise SystemExit(main())
