"""The one definition of each record, its vocabulary and rules, and the plain query values."""
