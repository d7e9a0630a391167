"""Demo data: the Jiawang organisation and one account per role (README lists them)."""
