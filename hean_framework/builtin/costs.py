"""Builtin cost-gating plugins (cost engine, market filters, trade gate, maker chase) -- see issue 5."""
