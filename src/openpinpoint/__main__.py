from openpinpoint.cli import main

raise SystemExit(main())
