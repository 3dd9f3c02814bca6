"""``python -m distillguard.cli``: the same as the ``distillguard`` script."""

import sys

from distillguard.cli.app import main

sys.exit(main())
