"""Reads: bulk, paginated listings of a scope (a region's images and everything that uses them), and the few
per-image reads that finishing an image needs."""
