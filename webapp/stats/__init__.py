"""Statistics: the dashboard's figures, the charts and the half-month reports (半月调度统计).

``figures`` computes the figures of DOMAIN §7 with SQL aggregates (live or as of a period end),
``reports`` holds the frozen half-month reports and their operations, ``routes`` the pages.
"""
