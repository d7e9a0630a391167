"""Integrity (弄虚作假、虚报瞒报): flags of possibly false closure, spot-check callbacks, and
accountability records (问责) against units.

``flask integrity scan`` raises the flags the data shows (idempotent; a scheduler runs it daily).
"""

from flask.cli import AppGroup

cli = AppGroup("integrity", help="Integrity checks: flags of possibly false closure.")
