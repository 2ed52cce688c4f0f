"""`python -m injector` runs the same command line as the `sidecar-injector` script."""

from injector.cli.main import main

raise SystemExit(main())
