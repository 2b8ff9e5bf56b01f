"""The three triggers, each the same loop over its own scope: read, plan (pure), apply (the one executor)."""
