"""AWS access: clients per region, error classification, and the product's own stores."""
