"""Exit statuses of the command line."""

EXIT_OK, EXIT_BLOCKED, EXIT_USAGE = 0, 1, 2  # blocked: a region could not be read, or an image not restored
