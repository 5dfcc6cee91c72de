import sys

from dflab.cli.main import main

sys.exit(main())
