"""The office's campaign settings: time limits, tiers, categories and the working-day calendar."""
