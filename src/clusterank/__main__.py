"""`python -m clusterank` runs the CLI."""

import sys

from clusterank.cli import main

sys.exit(main())
