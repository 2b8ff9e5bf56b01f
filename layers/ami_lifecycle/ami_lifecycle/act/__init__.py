"""Writes, one small class each with the IAM permissions it needs (`registry` lists them per function), and the
one executor that applies them."""
