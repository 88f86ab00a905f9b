"""`python -m gauntlet.cli` runs the command line (handy where the script is not on PATH)."""

from gauntlet.cli import main

main()
