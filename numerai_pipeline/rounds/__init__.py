"""Tournament rounds: numbers and submission windows."""
