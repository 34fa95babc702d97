"""Staff: commands and buttons for the shop's owners and employees (filtered once, at router level)."""
