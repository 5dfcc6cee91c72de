"""Training and development-set building: reproduces the shipped weights and tables. Runtime code never
imports this package."""
