"""`python -m ami_lifecycle.local.demo` (`make demo`)."""

import sys

from . import main

sys.exit(main())
