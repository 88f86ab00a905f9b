"""Pure decision logic: no I/O, no database, no clock. Imports nothing from the project."""
