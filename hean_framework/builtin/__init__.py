"""Builtin plugins of the kernel (pipeline, feeds, venues, commands), registered through the same
hooks as external plugins."""
