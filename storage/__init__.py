"""Models, engine, repositories and the unit of work (floor 1)."""
