from youworker.cli import main

raise SystemExit(main())
