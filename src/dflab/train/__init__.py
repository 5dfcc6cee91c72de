"""Training and development-set building. May import the runtime packages; nothing in the runtime imports this."""
