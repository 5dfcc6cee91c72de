"""Training and development-set builders. They may import the runtime packages; nothing in the runtime imports
them (a scan never loads the code that built its weights or its test sets)."""
