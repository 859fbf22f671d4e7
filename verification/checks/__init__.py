"""Check functions of the claim registry, one module per group of claims."""
