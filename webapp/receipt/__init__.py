"""The residents' receipt lookup (回执查询): public, rate-limited, shows only what was written for
the resident."""
