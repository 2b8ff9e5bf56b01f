"""`python -m ami_lifecycle plan --policy policy/policy.yaml`: see cli/plan.py."""

from .cli import main

raise SystemExit(main())
