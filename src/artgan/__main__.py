"""`python -m artgan ...` is the same as the `artgan` command."""

import sys

from .cli import main

sys.exit(main())
