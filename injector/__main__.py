"""`python -m injector` runs the same command line as the `sidecar-injector` script."""

from injector.cli import main

raise SystemExit(main())
