"""Offline intake on the cadre's phone: the installable web app's service worker, and the small
register the phone keeps for lookup while there is no signal (what the cadre may pick)."""
