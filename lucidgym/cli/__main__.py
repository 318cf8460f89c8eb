"""``python -m lucidgym.cli``: the ``lucidgym`` command."""

import sys

from lucidgym.cli import main

sys.exit(main())
