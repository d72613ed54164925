"""Builtin risk plugins (sizer, allocator, in-flight tracker, governor) -- see issue 4."""
