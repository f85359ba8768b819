"""The flux-auth sample service."""
