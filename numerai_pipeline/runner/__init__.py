"""Running the graph from the command line: the instance's housekeeping, what to reuse, and what
the console shows."""
