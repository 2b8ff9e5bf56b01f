"""Pure planning: inventory + policy + clock in, actions with reasons out. Nothing here does I/O."""
