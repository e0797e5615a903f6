"""`python -m devtools.stripe_stub [--port N]`: serve the stub until SIGINT or SIGTERM."""
from devtools.stripe_stub.server import main

raise SystemExit(main())
