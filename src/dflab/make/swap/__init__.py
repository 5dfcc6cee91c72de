"""The classic face swap: faceset extraction, shared-encoder model, training, conversion."""
