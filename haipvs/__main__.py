from haipvs.cli import main

raise SystemExit(main())
