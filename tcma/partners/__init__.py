"""Partners in the program and their brand profiles."""
