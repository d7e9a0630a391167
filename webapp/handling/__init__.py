"""Handling and closure: task books and steps, progress, cooperating parts, joint meetings and their
decisions, extensions, sign-off, verification, 暂难解决 and the reply to the resident. Builds on
``cases`` and records every change through its one workflow table."""
