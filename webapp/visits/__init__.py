"""Visiting (一户不漏、一企不落): the visits cadres record, the registers of households and
enterprises with their responsible cadres (包户/包企), visiting rounds and coverage.

Above ``cases``: recording a visit registers the problems raised in it through the cases'
operations; ``cases`` names the visit model by string only.
"""
