"""Console entry points: parse arguments, call the library."""
