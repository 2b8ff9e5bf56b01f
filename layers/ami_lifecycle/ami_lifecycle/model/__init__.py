"""What the product knows: images and their lineage, what a scope's read found, plans and their reasons."""
