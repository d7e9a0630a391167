"""Generic building blocks every area uses: database, clock, audit, rendering, security."""
