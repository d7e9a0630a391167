"""The organisation: the unit tree of the district (DOMAIN §2) and its work groups."""
