"""Local AWS: moto fidelity extension, event routing and the demo."""
